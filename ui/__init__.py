"""The operator web interface: server-rendered pages, one live stream per page, roles.

``geoscada ui serve --config FILE`` loads :mod:`ui.settings` (a session secret of its own or
no start), builds the app with :func:`ui.app.create_app`: the site files give the stations
and their equipment, :mod:`ui.auth` the users, roles, sessions, CSRF tokens, login throttling
and the audit log. :mod:`ui.live` keeps a last-value cache fed from MQTT under the UI's broker
identity and serves each page one Server-Sent Events stream: a snapshot, then changes, resumed
without a gap after a reconnect. Each ``ui/routes_*.py`` module is one screen or API with its
``router``; pages are Jinja2 templates in ``ui/templates`` on ``base.html`` (navigation and the
alarm banner), assets in ``ui/static`` (nothing from a CDN). Pure logic (figures, the mimic's
layout) lives in modules without I/O.
"""
