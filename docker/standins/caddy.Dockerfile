# A stand-in for the official caddy:2 image, for machines with no registry: Debian
# bookworm's Caddy on local/bookworm, laid out as the official image (configuration in
# /etc/caddy/Caddyfile, state in /config and /data, `caddy run` as the command).
FROM local/bookworm
ENV LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive XDG_CONFIG_HOME=/config XDG_DATA_HOME=/data
RUN printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d \
 && apt-get update -q \
 && apt-get install -y -q --no-install-recommends caddy ca-certificates \
 && apt-get clean && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /config /data /etc/caddy
CMD ["caddy", "run", "--config", "/etc/caddy/Caddyfile", "--adapter", "caddyfile"]
