/// The dashboard's only stylesheet and script, served from the coordinator itself (`/ui/app.css`,
/// `/ui/app.js`): no CDN, no build step, nothing an air-gapped cluster cannot serve.
enum DashboardAssets {
    /// Every element with `data-refresh="URL"` has its content replaced by what URL answers, every
    /// 2 s while the page is visible; a log view (`data-follow`) stays scrolled to its end. Without
    /// script, every page is a plain page that a reload brings up to date.
    static let script = """
        "use strict";
        (function () {
          function refresh(element) {
            var url = element.getAttribute("data-refresh");
            if (!url || document.hidden) { return; }
            fetch(url, { credentials: "same-origin", headers: { "Accept": "text/html" } })
              .then(function (response) {
                if (response.redirected || !response.ok) { return null; }
                return response.text();
              })
              .then(function (text) {
                if (text === null) { return; }
                var follow = element.querySelector("[data-follow]");
                var atEnd = !follow || follow.scrollTop + follow.clientHeight >= follow.scrollHeight - 8;
                element.innerHTML = text;
                var again = element.querySelector("[data-follow]");
                if (again && atEnd) { again.scrollTop = again.scrollHeight; }
              })
              .catch(function () {});
          }
          function start() {
            document.querySelectorAll("[data-follow]").forEach(function (log) { log.scrollTop = log.scrollHeight; });
            var live = document.querySelectorAll("[data-refresh]");
            if (live.length === 0) { return; }
            setInterval(function () { live.forEach(refresh); }, 2000);
          }
          if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); } else { start(); }
        })();

        """

    static let stylesheet = """
        body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#1d2330;background:#fafbfc}
        main{padding:16px 24px;max-width:1400px}
        nav{display:flex;align-items:center;gap:14px;padding:8px 24px;background:#1d2330;color:#fff}
        nav a{color:#cfd6e4;text-decoration:none} nav a[aria-current]{color:#fff;font-weight:600}
        nav .brand{font-weight:700;margin-right:10px} nav .spacer{flex:1} nav form{margin:0}
        nav button{background:none;border:1px solid #5b6475;color:#cfd6e4;border-radius:4px;cursor:pointer}
        h1{font-size:20px;margin:4px 0 8px} h2{font-size:16px;margin:22px 0 6px}
        table{border-collapse:collapse;background:#fff;margin:6px 0 14px}
        th,td{padding:4px 8px;border-bottom:1px solid #e6e8ee;text-align:left;vertical-align:top}
        th{background:#f3f5f8;font-weight:600} td.num,th.num{text-align:right}
        .chip{display:inline-block;padding:1px 8px;border-radius:10px;background:#e6e8ee;margin:0 4px 4px 0;color:#1d2330;text-decoration:none}
        a.chip b{margin-left:4px} a.chip.active{outline:2px solid #3b82c4}
        .state-running{background:#d6ecff} .state-succeeded{background:#d8f3df} .state-failed{background:#fbd9d6}
        .state-cancelled{background:#ececec} .state-queued,.state-recovering,.state-provisioning{background:#fff1c9}
        .tag{display:inline-block;padding:0 5px;margin:0 3px 2px 0;border:1px solid #d8dce4;border-radius:3px;font-size:12px}
        .muted{color:#5b6475} .error{color:#b3261e;font-weight:600}
        .cards{display:flex;flex-wrap:wrap;gap:10px;margin-bottom:14px}
        .card{border:1px solid #d8dce4;border-radius:6px;padding:8px 12px;min-width:140px;background:#fff}
        .card b{display:block;font-size:12px;color:#5b6475;font-weight:normal}
        progress{width:320px;height:14px;vertical-align:middle}
        pre#logs{background:#111722;color:#dfe6f0;padding:8px;max-height:420px;overflow:auto;font-size:12px;white-space:pre-wrap}
        .log-line{display:block}
        form.inline{display:inline}
        form label{margin-right:10px}
        svg text{font-size:11px;fill:#39404f} svg .axis{stroke:#999}
        rect.market-spot{fill:#3b82c4} rect.market-on-demand{fill:#e0923a} rect.attempt{stroke:#fff}
        g.interruption path{fill:#b3261e} g.interruption.notice path{fill:#e0a21b}
        polyline.series{fill:none;stroke-width:1.6;stroke:#3b82c4} polyline.attempt-1{stroke:#e0923a}
        polyline.attempt-2{stroke:#2e9d57} polyline.attempt-3{stroke:#8a4fc9} polyline.attempt-4{stroke:#c94f7c}
        polyline.attempt-5{stroke:#4fa3c9} circle.resume{fill:none;stroke:#b3261e;stroke-width:2}
        .legend span{display:inline-block;width:10px;height:10px;margin:0 4px 0 12px}
        .swatch-spot{background:#3b82c4} .swatch-on-demand{background:#e0923a} .swatch-savings{background:#2e9d57}
        .signin{max-width:420px;margin:60px auto;background:#fff;border:1px solid #d8dce4;border-radius:8px;padding:20px}
        .signin input[type=password]{width:100%;padding:6px;margin:8px 0;box-sizing:border-box}
        .pager a{margin-right:12px}
        #attempts td:nth-child(1),#attempts td:nth-child(4),#attempts td:nth-child(6),#attempts td:nth-child(8),
        #attempts td:nth-child(9),#checkpoints td:nth-child(1),#checkpoints td:nth-child(2){text-align:right}

        """
}
