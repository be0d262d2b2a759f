# A stand-in for the official postgres:16 image, for machines with no registry: Debian
# bookworm's PostgreSQL (15) on local/bookworm, started by an entrypoint that behaves like
# the official one for what docker-compose.yml uses — POSTGRES_USER / POSTGRES_PASSWORD /
# POSTGRES_DB (and their _FILE variants), initdb on the first start into
# /var/lib/postgresql/data, scripts in /docker-entrypoint-initdb.d, `postgres -c …` as the
# command, pg_isready for health checks. pg_stat_statements ships with the server package.
FROM local/bookworm
ENV LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive PG_MAJOR=15
# the official image's user and group ids, so a data volume moves between the two
RUN groupadd --system --gid 999 postgres \
 && useradd --system --uid 999 --gid postgres --home-dir /var/lib/postgresql --shell /bin/bash postgres \
 && mkdir -p /var/lib/postgresql && chown postgres:postgres /var/lib/postgresql
# package scripts must not start services, and Debian's own "main" cluster is not wanted:
# the entrypoint makes the cluster in PGDATA, as the official image does
RUN printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d \
 && mkdir -p /etc/postgresql-common/createcluster.d \
 && echo 'create_main_cluster = false' > /etc/postgresql-common/createcluster.d/ipai-ops.conf \
 && apt-get update -q \
 && apt-get install -y -q --no-install-recommends "postgresql-$PG_MAJOR" \
 && apt-get clean && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /docker-entrypoint-initdb.d /var/run/postgresql \
 && chown postgres:postgres /var/run/postgresql && chmod 3777 /var/run/postgresql
ENV PATH=/usr/lib/postgresql/$PG_MAJOR/bin:$PATH PGDATA=/var/lib/postgresql/data
COPY postgres-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
RUN chmod 755 /usr/local/bin/docker-entrypoint.sh
# No VOLUME line (the official image has one): each run would leave an anonymous volume
# behind; docker-compose.yml mounts a named volume on PGDATA itself.
ENTRYPOINT ["docker-entrypoint.sh"]
# fast shutdown, as the official image
STOPSIGNAL SIGINT
EXPOSE 5432
CMD ["postgres"]
