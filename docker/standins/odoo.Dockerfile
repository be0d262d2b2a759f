# A stand-in for the official odoo:19 image, for machines with no registry:
# Debian's python3-* packages for the dependencies Odoo's setup/package.dfdebian
# lists, and the configured Odoo 19 tree (sent in the build context by
# setup/docker_images.sh, never committed) laid out as the official image does.
FROM local/bookworm
ENV LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive
# package scripts must not try to start services inside a build
RUN printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d \
 && apt-get update -q \
 && apt-get install -y -q --no-install-recommends \
        adduser ca-certificates postgresql-client python3 \
        python3-asn1crypto python3-babel python3-cbor2 python3-dateutil python3-docutils \
        python3-geoip2 python3-gevent python3-pil python3-jinja2 python3-libsass python3-lxml \
        python3-magic python3-ofxparse python3-openpyxl python3-passlib python3-polib \
        python3-psutil python3-psycopg2 python3-openssl python3-pypdf2 python3-rjsmin \
        python3-qrcode python3-renderpm python3-reportlab python3-requests python3-serial \
        python3-setuptools python3-stdnum python3-tz python3-usb python3-vobject \
        python3-werkzeug python3-xlsxwriter python3-zeep python3-pip \
        python3-num2words \
 && rm -rf /var/lib/apt/lists/*
# bookworm has no python3-lxml-html-clean: its python3-lxml still ships lxml.html.clean.
# python3-num2words is among the official image's packages: Odoo patches it when testing.
RUN useradd --system --uid 101 --user-group --home-dir /var/lib/odoo --shell /usr/sbin/nologin odoo \
 && mkdir -p /etc/odoo /var/lib/odoo /mnt/extra-addons \
 && chown odoo:odoo /var/lib/odoo /mnt/extra-addons
COPY odoo /usr/lib/python3/dist-packages/odoo
COPY addons /usr/lib/python3/dist-packages/odoo/addons
COPY odoo-launcher /usr/bin/odoo
COPY odoo.conf /etc/odoo/odoo.conf
COPY entrypoint.sh /entrypoint.sh
RUN chmod 755 /usr/bin/odoo /entrypoint.sh && chown odoo /etc/odoo/odoo.conf
# No VOLUME lines (the official image has two): each run would leave anonymous volumes behind,
# and ipai-ops mounts a named volume on /var/lib/odoo itself.
ENV ODOO_RC=/etc/odoo/odoo.conf
EXPOSE 8069 8071 8072
USER odoo
ENTRYPOINT ["/entrypoint.sh"]
CMD ["odoo"]
