# The two commands of the README. Everything else lives in setup/.
.PHONY: test run lint bench clean

test:  ## install what is missing, lint, start a throwaway PostgreSQL, run engine + Odoo tests
	@bash setup/test.sh

run:  ## local PostgreSQL + Odoo 19 on 127.0.0.1:8069 with the addons and a demo project
	@bash setup/run.sh

bench:  ## benchmarks, each beside its baseline (BENCH=backup, ARGS="--db-mb 256")
	@bash setup/bench.sh

lint:
	@bash setup/bootstrap.sh && bash setup/lint.sh

clean:  ## stop the local cluster and remove var/ (the local control plane's data!)
	@bash setup/pg_cluster.sh stop var/pg || true
	rm -rf var
