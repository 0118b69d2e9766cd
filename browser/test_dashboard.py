"""The dashboard in a real browser (chromium + Selenium), against `spotwise demo --serve`.

Every test asserts something the dashboard could get wrong; waits are WebDriverWait on a
condition, never a fixed sleep. scripts/browser-test runs them (and fails on any skip).
"""

import json
import os
import re
import shutil
import urllib.parse
import uuid
from pathlib import Path

import pytest
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from conftest import HOSTILE_IMG, HOSTILE_SCRIPT, REPO, SESSION_COOKIE

LIVE = (StaleElementReferenceException, NoSuchElementException)
TERMINAL = ("succeeded", "failed", "cancelled")


def text_of(p, css):
    """An element's rendered text, found afresh (live parts are replaced under us)."""
    return p.driver.find_element(By.CSS_SELECTOR, css).text.strip()


def wait_text(p, css, expected, seconds=10):
    WebDriverWait(p.driver, seconds, ignored_exceptions=LIVE).until(
        lambda d: d.find_element(By.CSS_SELECTOR, css).text.strip() == expected,
        f"{css} never read {expected!r}")


def wait_for_live_refresh(p, seconds=10):
    """Marks the content of every [data-refresh] element, then waits until /ui/app.js has
    replaced each (its fetch answered and it swapped the HTML in) without a page load."""
    marked = p.driver.execute_script("""
        window.__pageMark = 1;
        var n = 0;
        document.querySelectorAll('[data-refresh]').forEach(function (e) {
          if (e.firstElementChild) { e.firstElementChild.__liveMark = 1; n++; }
        });
        return n;""")
    if marked:
        WebDriverWait(p.driver, seconds).until(
            lambda d: d.execute_script("""
                var all = true;
                document.querySelectorAll('[data-refresh]').forEach(function (e) {
                  if (e.firstElementChild && e.firstElementChild.__liveMark) { all = false; }
                });
                return all;"""),
            "a [data-refresh] part was never refreshed by /ui/app.js")
        assert p.driver.execute_script("return window.__pageMark") == 1, "the page reloaded instead"
    return marked


def api_counts(coordinator):
    jobs = coordinator.api("GET", "/v1/jobs?limit=1000")["jobs"]
    counts = {"all": len(jobs)}
    for job in jobs:
        counts[job["state"]] = counts.get(job["state"], 0) + 1
    return counts


# ----------------------------------------------------------------------------------------------
# Sessions


def test_pages_without_a_session_go_to_sign_in_and_show_no_data(page, coordinator, demo_job):
    reply = coordinator.request("GET", "/")
    assert reply.status == 303 and reply.header("Location") == "/ui/jobs", reply
    for path in ("/ui/jobs", f"/ui/jobs/{demo_job['id']}", "/ui/workers", "/ui/savings", "/ui/models",
                 "/ui/savings.csv", "/ui/savings.json", "/ui/savings.html"):
        reply = coordinator.request("GET", path)
        assert reply.status == 303, f"GET {path} without a session: {reply!r}"
        assert reply.header("Location").startswith("/ui/signin"), reply.headers
        assert demo_job["id"] not in reply.text and demo_job["name"] not in reply.text
    # A forged cookie opens nothing either.
    reply = coordinator.request("GET", "/ui/jobs", cookie="v1." + "0" * 32 + ".9999999999." + "0" * 32 + ".00")
    assert reply.status == 303 and reply.header("Location").startswith("/ui/signin"), reply

    p = page()
    p.open("/ui/jobs")
    assert p.path() == "/ui/signin", p.driver.current_url
    assert p.all("form#signin") and p.all("input#token") and p.all("#signin-button")
    assert not p.all("table#jobs"), "the sign-in page shows the jobs table"
    assert demo_job["name"] not in p.driver.page_source
    assert demo_job["id"] not in p.driver.page_source
    assert not p.all("nav#nav"), "the sign-in page shows the signed-in navigation"


def test_worker_bootstrap_and_wrong_tokens_cannot_sign_in(page, coordinator, running_jobs):
    worker_token = running_jobs["cancel"].worker_token
    cases = [
        ("a wrong token", "not-a-token-" + uuid.uuid4().hex, 401),
        ("the bootstrap token", coordinator.bootstrap_token, 403),
        ("a worker's token", worker_token, 403),
    ]
    p = page()
    for what, token, status in cases:
        p.submit_token(token)
        WebDriverWait(p.driver, 10).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#signin-error"))
        assert p.find("#signin-error").is_displayed(), what
        assert p.find("#signin-error").text.strip(), f"{what}: #signin-error says nothing"
        assert p.path() == "/ui/signin", f"{what}: left the sign-in page for {p.driver.current_url}"
        assert p.session_cookie() is None, f"{what} got a {SESSION_COOKIE} cookie"
        assert not p.all("table#jobs") and not p.all("nav#nav"), what
        assert token not in p.driver.current_url
        # The same over plain HTTP: the status the contract names, and no cookie set.
        reply = coordinator.form_post("/ui/signin", {"token": token}, cookie=None)
        assert reply.status == status, f"{what}: POST /ui/signin answered {reply.status}, expected {status}"
        cookies = [c for c in reply.all_headers("Set-Cookie") if c.startswith(SESSION_COOKIE + "=")]
        assert not [c for c in cookies if not c.startswith(SESSION_COOKIE + "=;")], f"{what}: {cookies}"
        assert 'id="signin-error"' in reply.text, f"{what}: {reply.text[:500]}"


def test_sign_in_keeps_the_token_out_of_urls_and_scripts(page, coordinator):
    p = page()
    # Asked for the savings page, sent to sign in, then back to the savings page.
    p.open("/ui/savings")
    assert p.path() == "/ui/signin"
    p.sign_in(coordinator.readonly_token, navigate=False)
    assert p.path() == "/ui/savings", f"sign-in did not return to the page asked for: {p.driver.current_url}"
    token = coordinator.readonly_token
    for candidate in (token, urllib.parse.quote(token), urllib.parse.quote_plus(token)):
        assert candidate not in p.driver.current_url
    history = p.driver.execute_script(
        "return performance.getEntriesByType('navigation').concat(performance.getEntriesByType('resource'))"
        ".map(function (e) { return e.name; })")
    assert not [u for u in history if token in u], history
    assert text_of(p, "#whoami") == "read-only"
    cookie = p.driver.get_cookie(SESSION_COOKIE)
    assert cookie["httpOnly"] is True, cookie
    assert cookie.get("sameSite") == "Strict", cookie
    assert cookie.get("path") == "/", cookie
    assert "expiry" in cookie, f"the session cookie does not expire: {cookie}"
    assert token not in cookie["value"], "the session cookie carries the token itself"
    assert SESSION_COOKIE not in p.driver.execute_script("return document.cookie"), "script can read the session"
    p.open("/ui/jobs")
    assert token not in p.driver.current_url and token not in p.driver.page_source


def test_sign_out_ends_the_session_in_the_browser(page, coordinator):
    p = page()
    p.sign_in(coordinator.admin_token)
    assert text_of(p, "#whoami") == "admin"
    copied = p.session_cookie()
    p.find("#signout-button").click()
    WebDriverWait(p.driver, 10).until(lambda d: urllib.parse.urlsplit(d.current_url).path == "/ui/signin")
    assert p.session_cookie() is None, "sign-out left the session cookie"
    # A copy of the cookie taken before signing out opens nothing after it.
    reply = coordinator.request("GET", "/ui/jobs", cookie=copied)
    assert reply.status == 303, f"a signed-out session's cookie still opens /ui/jobs: {reply!r}"
    p.open("/ui/jobs")
    assert p.path() == "/ui/signin" and not p.all("table#jobs")


def test_the_session_cookie_does_not_open_the_api(page, coordinator):
    for token in (coordinator.admin_token, coordinator.readonly_token):
        p = page()
        p.sign_in(token)
        cookie = p.session_cookie()
        for path in ("/v1/jobs", "/v1/models", "/metrics"):
            reply = coordinator.request("GET", path, cookie=cookie)
            assert reply.status == 401, f"GET {path} with only the session cookie: {reply!r}"
        reply = coordinator.request("POST", "/v1/jobs", cookie=cookie, body="name: x\nrun: y\n")
        assert reply.status == 401, reply
        p.driver.quit()


def test_pages_carry_the_security_headers(page, coordinator, demo_job):
    p = page()
    p.sign_in(coordinator.readonly_token)
    cookie = p.session_cookie()
    for path in ("/ui/signin", "/ui/jobs", f"/ui/jobs/{demo_job['id']}", "/ui/workers", "/ui/savings", "/ui/models"):
        reply = coordinator.request("GET", path, cookie=cookie)
        assert reply.status == 200, f"GET {path}: {reply!r}"
        csp = reply.header("Content-Security-Policy") or ""
        for directive in ("default-src 'none'", "script-src 'self'", "frame-ancestors 'none'", "form-action 'self'"):
            assert directive in csp, f"{path}: CSP {csp!r} lacks {directive}"
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp, csp
        assert reply.header("X-Content-Type-Options") == "nosniff", path
        assert "no-store" in (reply.header("Cache-Control") or ""), path
        assert (reply.header("Content-Type") or "").startswith("text/html"), path
        # No script, style or image from anywhere but the coordinator, and no inline script.
        elsewhere = re.findall(r"""(?:src|href|action)\s*=\s*["']?(?:https?:)?//[^"'\s>]*""", reply.text)
        assert not elsewhere, f"{path} refers to other origins: {elsewhere}"
        inline = re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", reply.text)
        assert not inline, f"{path} has an inline script: {inline}"
    reply = coordinator.request("GET", "/ui/jobs/job-doesnotexist", cookie=cookie)
    assert reply.status == 404, f"an unknown job's page: {reply!r}"


# ----------------------------------------------------------------------------------------------
# What a read-only user sees after the demo


def test_jobs_page_lists_the_demo_job_with_state_chips(page, coordinator, demo_job, demo_spec):
    p = page()
    p.sign_in(coordinator.readonly_token)
    p.open("/ui/jobs")
    counts = api_counts(coordinator)
    row = p.find(f"table#jobs tr.job[data-job-id='{demo_job['id']}']")
    assert row.get_attribute("data-state") == "succeeded"
    link = row.find_element(By.CSS_SELECTOR, "td.name a.job-link")
    assert link.text.strip() == demo_spec["name"]
    assert urllib.parse.urlsplit(link.get_attribute("href")).path == f"/ui/jobs/{demo_job['id']}"
    assert row.find_element(By.CSS_SELECTOR, "td.id").text.strip() == demo_job["id"]
    assert row.find_element(By.CSS_SELECTOR, "td.state span.chip").text.strip() == "succeeded"
    tags = [t.text.strip() for t in row.find_elements(By.CSS_SELECTOR, "td.tags span.tag")]
    assert "team=vision" in tags and "project=digits" in tags, tags
    attempts = row.find_element(By.CSS_SELECTOR, "td.attempts").text.strip()
    assert attempts.startswith(f"{demo_job['attempts']} "), f"attempts cell {attempts!r} vs {demo_job['attempts']}"
    assert row.find_element(By.CSS_SELECTOR, "td.cost").text.strip().startswith("$")
    assert row.find_element(By.CSS_SELECTOR, "td.saved").text.strip().endswith("%")
    # One chip per state with its count, and "all"; the counts are the API's.
    chips = {c.get_attribute("data-state"): c for c in p.all("a.chip[data-state]")}
    assert "all" in chips and "succeeded" in chips and "running" in chips, sorted(chips)
    for state, chip in chips.items():
        count = int(chip.find_element(By.TAG_NAME, "b").text.strip())
        assert count == counts.get(state, 0), f"chip {state} says {count}, the API {counts.get(state, 0)}"
    # Filtering by state through the chip.
    chips["succeeded"].click()
    WebDriverWait(p.driver, 10).until(lambda d: "state=succeeded" in d.current_url)
    states = {r.get_attribute("data-state") for r in p.all("table#jobs tr.job")}
    assert states == {"succeeded"}, states
    p.open("/ui/jobs?state=running")
    assert not p.all(f"tr.job[data-job-id='{demo_job['id']}']"), "state=running lists the finished demo job"
    p.open("/ui/jobs?tag=team%3Dvision")
    assert p.all(f"tr.job[data-job-id='{demo_job['id']}']"), "tag=team=vision does not list the demo job"
    p.open("/ui/jobs?tag=team%3Dnobody")
    assert not p.all("tr.job"), "tag=team=nobody lists jobs"


def test_job_page_shows_timeline_chart_history_and_logs(page, coordinator, demo_job, demo_spec):
    p = page()
    p.sign_in(coordinator.readonly_token)
    p.open("/ui/jobs")
    p.find(f"tr.job[data-job-id='{demo_job['id']}'] a.job-link").click()
    WebDriverWait(p.driver, 10).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#job-state"))
    assert p.path() == f"/ui/jobs/{demo_job['id']}"
    assert text_of(p, "#job-state") == "succeeded"
    assert text_of(p, "#job-name") == demo_spec["name"]
    assert text_of(p, "#job-id") == demo_job["id"]
    progress = p.find("progress#job-progress")
    assert float(progress.get_attribute("value")) > 0 and float(progress.get_attribute("max")) > 0
    assert p.all("#deadline") and p.all("#spend")

    # Attempt timeline: one bar per attempt (single node), each interruption marked.
    bars = p.all("svg#timeline rect.attempt")
    assert len(bars) >= 2, f"{len(bars)} attempt bars"
    assert len(bars) == demo_job["attempts"], f"{len(bars)} bars for {demo_job['attempts']} attempts"
    assert {b.get_attribute("data-attempt") for b in bars} == {str(n) for n in range(1, demo_job["attempts"] + 1)}
    for bar in bars:
        classes = bar.get_attribute("class").split()
        assert "market-spot" in classes or "market-on-demand" in classes, classes
    marks = p.all("svg#timeline g.interruption")
    assert len(marks) >= 1
    assert len(marks) == demo_job["preemptions"], f"{len(marks)} marks for {demo_job['preemptions']} preemptions"
    assert p.all("svg#timeline g.interruption.notice"), "no interruption with notice marked"
    assert p.all("svg#timeline g.interruption.no-notice"), "no interruption without notice marked"
    for mark in marks:
        assert int(mark.get_attribute("data-steps-lost")) >= 0

    # Metric chart: <div id="metric-chart" data-points> holds one <svg class="metric-chart"> per
    # metric reported more than once: points, a series per attempt, the resumed points.
    chart = p.find("div#metric-chart")
    assert int(chart.get_attribute("data-points")) > 0
    assert p.all("div#metric-chart svg.metric-chart polyline.series"), "no metric series drawn"
    assert p.all("div#metric-chart svg.metric-chart circle.resume"), "no resumed point on the metric chart"
    resumed = {c.get_attribute("data-attempt") for c in p.all("div#metric-chart polyline.series")}
    assert len(resumed) >= 2, f"series of attempts {resumed}: the chart does not span the attempts"
    assert not p.all("#metric-chart-empty")

    history = [li.text for li in p.all("ol#history > li")]
    assert history and all(h.strip() for h in history), history
    assert p.all("table#checkpoints")
    lines = p.all("pre#logs span.log-line")
    assert lines, "no log lines"
    assert not p.all("form#cancel") and not p.all("#cancel-button"), "a finished job offers cancel"


def test_workers_page_lists_the_workers(page, coordinator, running_jobs):
    p = page()
    p.sign_in(coordinator.readonly_token)
    p.find("a#nav-workers").click()
    WebDriverWait(p.driver, 10).until(lambda d: d.find_elements(By.CSS_SELECTOR, "table#workers"))
    for held in running_jobs.values():
        if held.released.is_set():
            continue
        row = p.find(f"table#workers tr.worker[data-worker-id='{held.worker_id}']")
        assert row.find_element(By.CSS_SELECTOR, "td.provider").text.strip() == "local"
        assert row.find_element(By.CSS_SELECTOR, "td.region").text.strip() == held.region
        assert row.find_element(By.CSS_SELECTOR, "td.market").text.strip() == "spot"
        assert row.find_element(By.CSS_SELECTOR, "td.status").text.strip() == "busy"
        current = row.find_element(By.CSS_SELECTOR, "td.job").text
        assert held.job_id in current or held.name in current, f"td.job {current!r} for {held.job_id}"
        assert row.find_element(By.CSS_SELECTOR, "td.price").text.strip()
        assert row.find_element(By.CSS_SELECTOR, "td.heartbeat").text.strip()
        row.find_element(By.CSS_SELECTOR, "td.rank")
    statuses = {c.text.strip() for c in p.all("table#workers tr.worker td.status")}
    assert statuses <= {"idle", "busy", "leaving", "gone"}, statuses


def test_savings_page_and_its_downloads(page, coordinator):
    p = page()
    p.sign_in(coordinator.readonly_token)
    p.find("a#nav-savings").click()
    WebDriverWait(p.driver, 10).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#savings-totals"))
    assert len(p.all("#savings-totals .card")) >= 1
    assert p.find("svg#savings-chart").is_displayed()
    assert p.all("table#savings-groups tr td"), "no savings groups"
    assert p.all("form#window") and p.all("form#window [name=since]") and p.all("form#window [name=by]")
    cookie = p.session_cookie()
    expected = {"csv": "text/csv", "json": "application/json", "html": "text/html"}
    for kind, content_type in expected.items():
        href = p.find(f"a#download-{kind}").get_attribute("href")
        parts = urllib.parse.urlsplit(href)
        assert parts.netloc in ("", f"{coordinator.host}:{coordinator.port}"), href
        assert parts.path == f"/ui/savings.{kind}", href
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        reply = coordinator.request("GET", target, cookie=cookie)
        assert reply.status == 200, f"{href} with the session: {reply!r}"
        assert (reply.header("Content-Type") or "").startswith(content_type), reply.headers
        assert reply.body, href
        if kind == "json":
            json.loads(reply.body)
        if kind == "csv":
            assert "," in reply.text.splitlines()[0]
        assert coordinator.request("GET", target).status == 303, f"{href} without a session"
    # The window picker: grouping by team lists the demo's team.
    p.open("/ui/savings?by=team")
    assert "vision" in p.find("table#savings-groups").text


def test_models_page_shows_versions_and_gate_decisions(page, coordinator, demo_spec):
    p = page()
    p.sign_in(coordinator.readonly_token)
    p.find("a#nav-models").click()
    WebDriverWait(p.driver, 10).until(lambda d: d.find_elements(By.CSS_SELECTOR, "section.model"))
    section = p.find(f"section.model[data-model='{demo_spec['model']}']")
    assert section.find_elements(By.CSS_SELECTOR, "table.versions tr.version"), "no model version"
    decisions = section.find_elements(By.CSS_SELECTOR, "table.decisions tr.decision")
    assert decisions, "no gate decision"
    assert section.find_elements(By.CSS_SELECTOR, "tr.decision.accepted"), "the demo's accepted decision is missing"
    assert all(d.find_element(By.CSS_SELECTOR, "td.reason").text.strip() for d in decisions)
    section.find_element(By.CSS_SELECTOR, "table.aliases")
    assert not p.all("form.promote") and not p.all("form.rollback"), "read-only sees promote/rollback"


# ----------------------------------------------------------------------------------------------
# Who may change what


def test_read_only_finds_no_cancel_and_a_forged_post_is_refused(page, coordinator, running_jobs, demo_spec):
    held = running_jobs["hostile"]
    p = page()
    p.sign_in(coordinator.readonly_token)
    p.open(f"/ui/jobs/{held.job_id}")
    assert text_of(p, "#job-state") == "running"
    assert not p.all("form#cancel") and not p.all("#cancel-button"), "read-only sees the cancel form"
    assert [f.get_attribute("id") for f in p.all("form[method=post], form[method=POST]")] == ["signout"]
    p.open("/ui/models")
    assert not p.all("form.promote") and not p.all("form.rollback")
    csrf = p.csrf()
    assert csrf, "no csrf value on the sign-out form"
    cookie = p.session_cookie()
    before = coordinator.job(held.job_id)
    for fields in ({}, {"csrf": csrf}):
        reply = coordinator.form_post(f"/ui/jobs/{held.job_id}/cancel", fields, cookie=cookie)
        assert reply.status == 403, f"read-only cancel with {sorted(fields)}: {reply!r}"
        assert 'id="error"' in reply.text, f"the 403 is not the error page: {reply.text[:300]!r}"
    after = coordinator.job(held.job_id)
    assert after["state"] == before["state"] == "running", after["state"]
    model_before = coordinator.api("GET", f"/v1/models/{demo_spec['model']}")
    for action, fields in (("promote", {"csrf": csrf, "alias": "production", "version": "1"}),
                           ("rollback", {"csrf": csrf, "alias": "production"})):
        reply = coordinator.form_post(f"/ui/models/{demo_spec['model']}/{action}", fields, cookie=cookie)
        assert reply.status == 403, f"read-only {action}: {reply!r}"
    assert coordinator.api("GET", f"/v1/models/{demo_spec['model']}") == model_before


def test_admin_posts_without_the_session_csrf_are_refused(page, coordinator, running_jobs):
    held = running_jobs["hostile"]
    p = page()
    p.sign_in(coordinator.admin_token)
    p.open(f"/ui/jobs/{held.job_id}")
    assert p.all("form#cancel #cancel-button"), "the admin sees no cancel form on a running job"
    form_csrf = p.find("form#cancel input[name=csrf]").get_attribute("value")
    assert form_csrf == p.csrf()
    cookie = p.session_cookie()
    other = page()
    other.sign_in(coordinator.admin_token)
    other_csrf = other.csrf()
    assert other_csrf != form_csrf, "two sessions share a CSRF token"
    cases = [
        ("no csrf", {}, {}),
        ("an empty csrf", {"csrf": ""}, {}),
        ("another session's csrf", {"csrf": other_csrf}, {}),
        ("the right csrf from another site", {"csrf": form_csrf}, {"Sec-Fetch-Site": "cross-site"}),
    ]
    for what, fields, headers in cases:
        reply = coordinator.form_post(f"/ui/jobs/{held.job_id}/cancel", fields, cookie=cookie, headers=headers)
        assert reply.status == 403, f"admin cancel with {what}: {reply!r}"
    assert coordinator.job(held.job_id)["state"] == "running"
    # Without a session at all: sent to sign in, nothing changes.
    reply = coordinator.form_post(f"/ui/jobs/{held.job_id}/cancel", {"csrf": form_csrf}, cookie=None)
    assert reply.status in (303, 401, 403), reply
    assert coordinator.job(held.job_id)["state"] == "running"


def test_admin_cancels_a_running_job_from_its_page(page, coordinator, running_jobs):
    held = running_jobs["cancel"]
    assert coordinator.job(held.job_id)["state"] == "running"
    p = page()
    p.sign_in(coordinator.admin_token)
    p.open("/ui/jobs")
    row = p.find(f"tr.job[data-job-id='{held.job_id}']")
    assert row.get_attribute("data-state") == "running"
    assert held.region in row.find_element(By.CSS_SELECTOR, "td.where").text
    row.find_element(By.CSS_SELECTOR, "a.job-link").click()
    WebDriverWait(p.driver, 10).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#job-state"))
    assert text_of(p, "#job-state") == "running"
    p.find("#cancel-button").click()
    wait_text(p, "#job-state", "cancelled")
    assert p.path() == f"/ui/jobs/{held.job_id}"
    assert coordinator.job(held.job_id)["state"] == "cancelled"
    assert not p.all("form#cancel"), "a cancelled job still offers cancel"
    # The worker holding it is told to stop (or its epoch is fenced off).
    WebDriverWait(p.driver, 15).until(lambda d: held.released.is_set(), "the cancelled job's worker was never told to stop")


# ----------------------------------------------------------------------------------------------
# Hostile text, live logs, the console


def test_hostile_tags_and_log_lines_render_as_text(page, coordinator, running_jobs):
    held = running_jobs["hostile"]
    p = page()
    p.sign_in(coordinator.readonly_token)
    cookie = p.session_cookie()
    # The server's HTML escapes them.
    for path in ("/ui/jobs", f"/ui/jobs/{held.job_id}"):
        raw = coordinator.request("GET", path, cookie=cookie).text
        assert HOSTILE_SCRIPT not in raw and HOSTILE_IMG not in raw, f"{path} has the payload unescaped"
        assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in raw, f"{path} lacks the escaped payload"

    p.open("/ui/jobs")

    def check_jobs_page():
        row = p.find(f"tr.job[data-job-id='{held.job_id}']")
        tags = [t.text.strip() for t in row.find_elements(By.CSS_SELECTOR, "td.tags span.tag")]
        assert f"xss-script={HOSTILE_SCRIPT}" in tags, tags
        assert f"xss-img={HOSTILE_IMG}" in tags, tags
        assert not p.all("#jobs script") and not p.all("#jobs img"), "the payload became elements"
        assert p.pwned() is None, f"window.__pwned = {p.pwned()}"

    check_jobs_page()
    assert wait_for_live_refresh(p), "the jobs page has no live part"
    check_jobs_page()  # the same after /ui/app.js swapped the live part in

    p.open(f"/ui/jobs/{held.job_id}")

    def check_job_page():
        lines = [line.text for line in p.all("pre#logs span.log-line")]
        assert any(f"log says {HOSTILE_SCRIPT}" in line for line in lines), lines
        assert any(f"log says {HOSTILE_IMG}" in line for line in lines), lines
        assert not p.all("#logs script") and not p.all("#logs img"), "the payload became elements"
        assert p.pwned() is None, f"window.__pwned = {p.pwned()}"

    check_job_page()
    wait_for_live_refresh(p)
    check_job_page()


def test_logs_follow_live_without_a_reload(page, coordinator, running_jobs):
    held = running_jobs["hostile"]
    p = page()
    p.sign_in(coordinator.readonly_token)
    p.open(f"/ui/jobs/{held.job_id}")
    assert p.all("#logs-live[data-refresh]"), "the job page has no live log part"
    p.driver.execute_script("window.__stayed = 'yes';")
    marker = f"live line {uuid.uuid4().hex}"
    assert marker not in p.find("#logs").text
    held.post_logs([marker, f"{marker} <b>not bold</b>"])
    WebDriverWait(p.driver, 10, ignored_exceptions=LIVE).until(
        lambda d: marker in d.find_element(By.CSS_SELECTOR, "#logs").text,
        "a log line posted after the page loaded never appeared")
    assert p.driver.execute_script("return window.__stayed") == "yes", "the page was reloaded"
    assert f"{marker} <b>not bold</b>" in p.find("#logs").text
    assert not p.all("#logs b")


def test_no_page_logs_a_console_error(page, coordinator, demo_job, running_jobs):
    p = page()
    p.open("/ui/signin")
    assert p.console_errors() == [], "sign-in page"
    p.sign_in(coordinator.admin_token)
    p.console_errors()  # the sign-in's own navigation
    pages = ["/ui/jobs", "/ui/jobs?state=succeeded", f"/ui/jobs/{demo_job['id']}",
             f"/ui/jobs/{running_jobs['hostile'].job_id}", "/ui/workers", "/ui/savings", "/ui/models"]
    found = {}
    for path in pages:
        p.open(path)
        assert p.find("nav#nav")
        wait_for_live_refresh(p)
        errors = p.console_errors()
        if errors:
            found[path] = errors
    assert not found, json.dumps(found, indent=1)


def test_screenshots_of_every_page(page, coordinator, demo_job):
    p = page()
    assert tuple(p.driver.get_window_size().values()) in ((1280, 1000),), p.driver.get_window_size()
    shots = {}
    p.open("/ui/signin")
    shots["signin"] = p.screenshot("signin")
    p.sign_in(coordinator.readonly_token)
    for name, path in (("jobs", "/ui/jobs"), ("job", f"/ui/jobs/{demo_job['id']}"), ("workers", "/ui/workers"),
                       ("savings", "/ui/savings"), ("models", "/ui/models")):
        p.open(path)
        assert p.find("nav#nav")
        shots[name] = p.screenshot(name)
    assert len({s.read_bytes() for s in shots.values()}) == len(shots), "two pages look identical"
    if os.environ.get("SPOTWISE_UPDATE_README_IMAGES") == "1":
        images = REPO / "docs" / "images"
        images.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shots["jobs"], images / "dashboard-jobs.png")
        shutil.copyfile(shots["job"], images / "dashboard-job.png")


def test_admin_promotes_an_alias_from_the_models_page(page, coordinator, demo_spec):
    model = demo_spec["model"]
    alias = "browser-" + uuid.uuid4().hex[:6]
    p = page()
    p.sign_in(coordinator.admin_token)
    p.open("/ui/models")
    section = p.find(f"section.model[data-model='{model}']")
    form = section.find_element(By.CSS_SELECTOR, "form.promote")
    section.find_element(By.CSS_SELECTOR, "form.rollback")
    assert form.find_element(By.CSS_SELECTOR, "input[name=csrf]").get_attribute("value") == p.csrf()
    field = form.find_element(By.CSS_SELECTOR, "[name=alias]")
    field.clear()
    field.send_keys(alias)
    version = form.find_element(By.CSS_SELECTOR, "[name=version]")
    version.clear()
    version.send_keys("1")
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    WebDriverWait(p.driver, 10, ignored_exceptions=LIVE).until(
        lambda d: alias in d.find_element(By.CSS_SELECTOR, f"section.model[data-model='{model}'] table.aliases").text,
        f"alias {alias} never showed in the aliases table")
    assert p.path().startswith("/ui/models"), p.driver.current_url
    assert coordinator.api("GET", f"/v1/models/{model}")["aliases"].get(alias) == 1


def test_jobs_are_paged_newest_first(page, coordinator):
    """Runs last: it adds enough queued jobs (in a region no worker has) for a second page."""
    total = len(coordinator.api("GET", "/v1/jobs?limit=1000")["jobs"])
    suffix = uuid.uuid4().hex[:6]
    added = []
    for n in range(max(0, 51 - total) + 5):
        spec = f"name: browser-page-{suffix}-{n}\nrun: python3 -c pass\nproviders:\n  - name: local\n    regions: [browser-nowhere]\n"
        added.append(coordinator.api("POST", "/v1/jobs", body=spec, expect=(201,),
                                     headers={"Content-Type": "application/yaml"})["id"])
    try:
        ids = [j["id"] for j in coordinator.api("GET", "/v1/jobs?limit=1000")["jobs"]]
        assert len(ids) > 50
        p = page()
        p.sign_in(coordinator.readonly_token)
        p.open("/ui/jobs")
        first = [r.get_attribute("data-job-id") for r in p.all("table#jobs tr.job")]
        assert first == ids[:50], "page 1 is not the 50 newest jobs, newest first"
        assert p.all("a#next-page") and not p.all("a#prev-page")
        p.find("a#next-page").click()
        WebDriverWait(p.driver, 10).until(lambda d: "page=" in d.current_url)
        second = [r.get_attribute("data-job-id") for r in p.all("table#jobs tr.job")]
        assert second == ids[50:100], "page 2 does not continue page 1"
        assert p.all("a#prev-page")
        assert bool(p.all("a#next-page")) == (len(ids) > 100)
    finally:
        for job_id in added:
            coordinator.api("POST", f"/v1/jobs/{job_id}/cancel", expect=(200, 409))
