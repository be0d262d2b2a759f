"""Odoo instances as Docker containers on a runtime host.

A *runtime host* is a Docker engine (a local socket or ``tcp://``); an environment's
*instance* is one container on it, built from the environment's own image and
configured by a generated ``odoo.conf``. The modules, in the order a deploy uses them:

* :mod:`.engine` — reach a host's engine; the labels that mark what ipai-ops owns;
* :mod:`.image` — an environment's image: base image + its addons, tagged by content;
* :mod:`.config` — the instance's ``odoo.conf`` and its database password file;
* :mod:`.instance` — deploy, start, stop, restart, remove, status, logs, health.

Operator notes:

* Containers run with host networking and an init process (Odoo as PID 1 would ignore
  SIGTERM and every stop would wait out the grace period); Odoo listens on 127.0.0.1 at a
  port from the host's range. Put a reverse proxy in front for anything else.
* ipai-ops only ever lists, stops or removes containers carrying ``ipai-ops.managed=1``.
  Containers started by hand on the same engine are left alone, whatever their names.
* The database password reaches Odoo as a libpq password file inside the container,
  never through the command line, the environment or ``odoo.conf`` (see :mod:`.config`).
* After a crash, ``docker ps -a --filter label=ipai-ops.managed=1`` lists everything
  ipai-ops made on a host; removing those containers loses nothing but the running
  process (the filestore lives on a named volume).
"""
