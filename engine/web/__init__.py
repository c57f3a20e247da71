"""The operator's web console, served by the engine's own HTTP listener when ``http.console.enabled`` is true.

Pages: live sessions (polled every second), an account (balances by type with expiry, recent debits, action
triggers, top-up), CDR search with CSV download, StatS queues plotted over time, and the tariff plan browser with
a cost-of-a-call form. Everything is read through the services' RPC methods on Conns (``sessions_conns``,
``apiers_conns``, ``cdrs_conns``, ``stats_conns``), so the console works against this engine or another one. It
reads only, unless ``action_users`` gives an authenticated user a role: force disconnect, top-up
(:mod:`.actions`).

The front end is static HTML, a few small ES modules of ours (``static/js``) and two vendored libraries, chosen by
size and accessibility and served from the package (no CDN: it works offline):

- **Pico CSS 2.1.1** (MIT, 83 KB, 12 KB gzipped, no JavaScript): it styles plain semantic HTML — real tables with
  captions and scoped headers, labelled form controls, visible focus, WCAG-contrast colours, light and dark
  schemes — so the markup screen readers rely on is the markup that looks right;
- **uPlot 1.6.32** (MIT, 51 KB, 22 KB gzipped): the smallest fast time-series chart (Chart.js is about four times
  its size, ECharts twenty); its canvas is labelled and described by a table of the same points, which is what
  assistive technology reads (and what the tests read).

Modules: :mod:`.console` (the service, routes, assets), :mod:`.views` (sessions, accounts, CDRs),
:mod:`.tariffs`, :mod:`.history` (StatS samples), :mod:`.actions` (roles and the two actions).
"""
