"""Fixtures for the dashboard's real-browser tests (Debian's chromium and chromedriver, Selenium).

The tests run against a coordinator that `scripts/browser-test` started with
`spotwise demo --serve` (a finished job with three interruptions). They read:

  SPOTWISE_UI_URL        the dashboard, e.g. http://127.0.0.1:PORT/ui/
  SPOTWISE_STATE_DIR     the demo's state directory (admin.token, readonly.token, bootstrap.token)
  SPOTWISE_SCREENSHOTS   where the PNGs of each page go (default browser/screenshots)

A missing variable, browser or driver is an error, never a skip: a skipped test did not run.
Everything else the tests need they make through the coordinator's own API: two jobs kept
running by workers this file registers and heartbeats (one to cancel from the browser, one whose
tags and log lines carry HTML and script).
"""

import http.client
import json
import os
import re
import threading
import time
import urllib.parse
import uuid
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("SPOTWISE_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("SPOTWISE_CHROMEDRIVER", "/usr/bin/chromedriver")
SESSION_COOKIE = "spotwise_session"
WINDOW = (1280, 1000)

# What a page must not run: each sets window.__pwned if it ever executes.
HOSTILE_SCRIPT = "<script>window.__pwned=1</script>"
HOSTILE_IMG = '<img src=x onerror="window.__pwned=2">'


def _required_env(name):
    value = os.environ.get(name)
    if not value:
        raise pytest.UsageError(
            f"{name} is not set: run the browser tests with scripts/browser-test (it starts the demo "
            "and sets SPOTWISE_UI_URL, SPOTWISE_STATE_DIR and SPOTWISE_SCREENSHOTS)")
    return value


def _spec_field(path, pattern):
    match = re.search(pattern, path.read_text(), re.MULTILINE)
    assert match, f"{path}: no match for {pattern}"
    return match.group(1).strip().strip("'\"")


# ----------------------------------------------------------------------------------------------
# Plain HTTP to the coordinator (stdlib only: no redirect following, every header visible)


class Reply:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers  # list of (name, value)
        self.body = body

    def header(self, name):
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None

    def all_headers(self, name):
        return [value for key, value in self.headers if key.lower() == name.lower()]

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return f"<Reply {self.status} {self.text[:300]!r}>"


class Coordinator:
    """The coordinator under test, by its loopback address."""

    def __init__(self, ui_url, state_dir):
        parsed = urllib.parse.urlsplit(ui_url)
        assert parsed.scheme == "http" and parsed.hostname, f"SPOTWISE_UI_URL {ui_url!r} is not http://HOST:PORT/ui/"
        self.host = parsed.hostname
        self.port = parsed.port or 80
        self.base = f"http://{self.host}:{self.port}"
        self.ui = self.base + "/ui/"
        self.state_dir = Path(state_dir)
        self.admin_token = self._token("admin.token")
        self.readonly_token = self._token("readonly.token")
        self.bootstrap_token = self._token("bootstrap.token")

    def _token(self, name):
        path = self.state_dir / name
        assert path.is_file(), f"{path} is missing (is SPOTWISE_STATE_DIR the demo's --state-dir?)"
        token = path.read_text().strip()
        assert token, f"{path} is empty"
        return token

    def url(self, path):
        return self.base + path

    def request(self, method, path, body=None, headers=None, token=None, cookie=None, timeout=30):
        headers = dict(headers or {})
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        if cookie is not None:
            headers["Cookie"] = f"{SESSION_COOKIE}={cookie}"
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            headers.setdefault("Content-Type", "application/json")
        elif isinstance(body, str):
            body = body.encode()
        connection = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            return Reply(response.status, response.getheaders(), response.read())
        finally:
            connection.close()

    def api(self, method, path, body=None, token=None, expect=(200,), headers=None):
        reply = self.request(method, path, body=body, token=token or self.admin_token, headers=headers)
        assert reply.status in expect, f"{method} {path}: expected {expect}, got {reply!r}"
        return reply.json() if reply.body else None

    def job(self, job_id):
        return self.api("GET", f"/v1/jobs/{job_id}")

    def form_post(self, path, fields, cookie, headers=None):
        headers = dict(headers or {})
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        return self.request("POST", path, body=urllib.parse.urlencode(fields), headers=headers, cookie=cookie)


@pytest.fixture(scope="session")
def coordinator():
    ui_url = _required_env("SPOTWISE_UI_URL")
    state_dir = _required_env("SPOTWISE_STATE_DIR")
    coordinator = Coordinator(ui_url, state_dir)
    reply = coordinator.request("GET", "/health")
    assert reply.status == 200, f"the coordinator at {coordinator.base} is not up: {reply!r}"
    return coordinator


@pytest.fixture(scope="session")
def demo_spec():
    """The demo's job as jobs/digits.yaml names it, and the model it registers."""
    path = REPO / "jobs" / "digits.yaml"
    return {
        "name": _spec_field(path, r"^name:\s*(\S+)"),
        "model": _spec_field(path, r"^\s+model:\s*(\S+)"),
        "text": path.read_text(),
    }


@pytest.fixture(scope="session")
def demo_job(coordinator, demo_spec):
    """The demo's finished job, as GET /v1/jobs/ID tells it."""
    jobs = coordinator.api("GET", "/v1/jobs?limit=1000")["jobs"]
    mine = [j for j in jobs if j["name"] == demo_spec["name"]]
    assert mine, f"no job named {demo_spec['name']} among {[j['name'] for j in jobs]}"
    job = coordinator.job(mine[-1]["id"])  # newest first: the demo's is the oldest of that name
    assert job["state"] == "succeeded", f"the demo's job {job['id']} is {job['state']}, not succeeded"
    return job


# ----------------------------------------------------------------------------------------------
# Running jobs: submitted through the API, each held by a worker this file registers and
# heartbeats, in a region only that worker has (so no other node of the demo's pool takes it).


def job_spec(name, region, tags):
    lines = [
        f"name: {name}",
        'run: python3 -c "pass"',
        "workdir: .",
        "resources: {cpus: 1, memory: 1GB}",
        "providers:",
        "  - name: local",
        f"    regions: [{region}]",
        "market: spot",
        "deadline: 36h",
        "checkpoint: {every_steps: 10, keep_last: 2, storage: file://checkpoints}",
        "tags:",
    ]
    lines += [f"  {key}: {json.dumps(value)}" for key, value in tags.items()]
    return "\n".join(lines) + "\n"


class HeldJob:
    """A job that a test worker holds in `running` by heartbeating it."""

    def __init__(self, coordinator, name, region, tags):
        self.coordinator = coordinator
        self.name = name
        self.region = region
        self.tags = tags
        self.worker_id = None
        self.worker_token = None
        self.job_id = None
        self.attempt = None
        self.epoch = None
        self.heartbeat_every = 1.0
        self.last_command = None
        self.heartbeat_errors = []
        self.released = threading.Event()  # set when the coordinator says stop (or 409)

    def start(self, deadline_s=60):
        c = self.coordinator
        registration = c.api(
            "POST", "/v1/workers", token=c.bootstrap_token, expect=(201,),
            body={
                "name": f"browser-test-{self.region}",
                "provider": "local",
                "pool": {
                    "region": self.region, "market": "spot", "instance_type": "local.t4",
                    "price_per_hour": "0.10", "on_demand_price_per_hour": "1.00",
                },
            })
        self.worker_id = registration["worker_id"]
        self.worker_token = registration["token"]
        self.heartbeat_every = max(0.2, min(registration["heartbeat_every_ms"] / 1000, 1.0))
        submitted = c.api(
            "POST", "/v1/jobs", body=job_spec(self.name, self.region, self.tags), expect=(201,),
            headers={"Content-Type": "application/yaml", "Idempotency-Key": str(uuid.uuid4())})
        self.job_id = submitted["id"]
        # The scheduler places the job on the next of its passes (every 0.5 s in the demo): ask
        # for work as an idle worker does, until it is leased to this worker.
        until = time.monotonic() + deadline_s
        while True:
            reply = c.api("POST", f"/v1/workers/{self.worker_id}/assignment", token=self.worker_token)
            assignment = (reply or {}).get("assignment")
            if assignment:
                break
            if time.monotonic() > until:
                raise AssertionError(
                    f"job {self.job_id} was not leased to worker {self.worker_id} within {deadline_s} s: "
                    f"{c.job(self.job_id)}")
            time.sleep(self.heartbeat_every / 2)
        assert assignment["job"] == self.job_id, f"worker {self.worker_id} was given {assignment}"
        self.attempt = assignment["attempt"]
        self.epoch = assignment["epoch"]
        self.heartbeat()  # the first heartbeat moves the job to running
        self.thread = threading.Thread(target=self._keep_alive, name=f"heartbeat-{self.job_id}", daemon=True)
        self.stopping = threading.Event()
        self.thread.start()
        try:
            wait_for(lambda: c.job(self.job_id)["state"] == "running", 30, f"job {self.job_id} running")
        except AssertionError as error:
            raise AssertionError(f"{error}; job: {c.job(self.job_id)}; heartbeats: {self.heartbeat_errors}") from None
        return self

    def heartbeat(self, step=20):
        reply = self.coordinator.request(
            "POST", f"/v1/workers/{self.worker_id}/heartbeat", token=self.worker_token,
            body={"job": self.job_id, "attempt": self.attempt, "epoch": self.epoch,
                  "step": step, "total_steps": 100, "committed_step": 10})
        if reply.status == 200:
            self.last_command = reply.json().get("command")
            if self.last_command == "stop":
                self.released.set()
        elif reply.status in (404, 409):
            self.released.set()  # the attempt ended (cancelled): stop heartbeating it
        else:
            self.heartbeat_errors.append(repr(reply))
        return reply

    def _keep_alive(self):
        while not self.stopping.wait(self.heartbeat_every):
            if self.released.is_set():
                return
            try:
                self.heartbeat()
            except OSError as error:  # the coordinator went away at the end of the run
                self.heartbeat_errors.append(repr(error))

    def post_logs(self, lines):
        return self.coordinator.api(
            "POST", f"/v1/jobs/{self.job_id}/attempts/{self.attempt}/logs", token=self.worker_token,
            body={"epoch": self.epoch, "lines": list(lines)})

    def stop(self):
        self.stopping.set()
        self.thread.join(timeout=10)
        c = self.coordinator
        try:
            if c.job(self.job_id)["state"] not in ("succeeded", "failed", "cancelled"):
                c.api("POST", f"/v1/jobs/{self.job_id}/cancel", expect=(200, 409))
            c.request("DELETE", f"/v1/workers/{self.worker_id}", token=self.worker_token)
        except (OSError, AssertionError):
            pass


def wait_for(condition, seconds, what):
    until = time.monotonic() + seconds
    while True:
        if condition():
            return
        if time.monotonic() > until:
            raise AssertionError(f"timed out after {seconds} s waiting for: {what}")
        time.sleep(0.2)


@pytest.fixture(scope="session")
def running_jobs(coordinator):
    """Two running jobs: `cancel` (for the admin's cancel button) and `hostile` (tags and log
    lines carrying HTML and script; stays running for the live-log and forged-POST tests)."""
    suffix = uuid.uuid4().hex[:6]
    held = {}
    try:
        held["cancel"] = HeldJob(coordinator, f"browser-cancel-{suffix}", "browser-a", {"team": "browser"}).start()
        held["hostile"] = HeldJob(
            coordinator, f"browser-hostile-{suffix}", "browser-b",
            {"team": "browser", "xss-script": HOSTILE_SCRIPT, "xss-img": HOSTILE_IMG}).start()
        held["hostile"].post_logs([
            "step 1: starting",
            f"log says {HOSTILE_SCRIPT}",
            f"log says {HOSTILE_IMG}",
        ])
        yield held
    finally:
        for job in held.values():
            job.stop()


# ----------------------------------------------------------------------------------------------
# Browsers


def make_driver():
    for path in (CHROMIUM, CHROMEDRIVER):
        if not os.access(path, os.X_OK):
            raise pytest.UsageError(f"{path} is missing: apt-get install -y chromium chromium-driver")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     f"--window-size={WINDOW[0]},{WINDOW[1]}", "--no-first-run",
                     "--disable-background-networking", "--disable-extensions"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=webdriver.ChromeService(executable_path=CHROMEDRIVER), options=options)
    driver.set_window_size(*WINDOW)
    driver.set_page_load_timeout(30)
    return driver


@pytest.fixture
def browser():
    """A factory of fresh browsers (no cookies shared between them), all closed after the test."""
    drivers = []

    def new():
        driver = make_driver()
        drivers.append(driver)
        return driver

    yield new
    for driver in drivers:
        try:
            driver.quit()
        except Exception:
            pass


class Page:
    """What the tests do in a browser, by the dashboard's contract."""

    def __init__(self, driver, coordinator):
        self.driver = driver
        self.c = coordinator

    def wait(self, seconds=10):
        return WebDriverWait(self.driver, seconds)

    def open(self, path):
        self.driver.get(self.c.url(path))
        self.wait().until(lambda d: d.execute_script("return document.readyState") == "complete")

    def find(self, css):
        return self.driver.find_element(By.CSS_SELECTOR, css)

    def all(self, css):
        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def path(self):
        return urllib.parse.urlsplit(self.driver.current_url).path

    def submit_token(self, token, navigate=True):
        """Types the token into the sign-in form: on /ui/signin, or (navigate=False) on the sign-in
        page the browser was already sent to (which carries `next`)."""
        if navigate:
            self.open("/ui/signin")
        assert self.path() == "/ui/signin", self.driver.current_url
        field = self.find("form#signin input#token")
        assert field.get_attribute("type") == "password"
        field.send_keys(token)
        self.find("#signin-button").click()

    def sign_in(self, token, navigate=True):
        self.submit_token(token, navigate=navigate)
        self.wait().until(lambda d: urllib.parse.urlsplit(d.current_url).path != "/ui/signin")
        self.wait().until(EC.presence_of_element_located((By.CSS_SELECTOR, "nav#nav #whoami")))
        assert self.session_cookie(), "signed in, but the browser holds no spotwise_session cookie"
        return self

    def session_cookie(self):
        cookie = self.driver.get_cookie(SESSION_COOKIE)
        return cookie["value"] if cookie else None

    def csrf(self):
        return self.find("form#signout input[name=csrf]").get_attribute("value")

    def console_errors(self):
        """SEVERE entries of the browser's console since the last call (CSP violations show here)."""
        return [e for e in self.driver.get_log("browser") if e.get("level") == "SEVERE"]

    def pwned(self):
        return self.driver.execute_script("return typeof window.__pwned === 'undefined' ? null : window.__pwned")

    def screenshot(self, name):
        directory = Path(os.environ.get("SPOTWISE_SCREENSHOTS") or REPO / "browser" / "screenshots")
        directory.mkdir(parents=True, exist_ok=True)
        target = directory / f"{name}.png"
        assert self.driver.save_screenshot(str(target)), f"no screenshot written to {target}"
        assert target.stat().st_size > 1000 and target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        return target


@pytest.fixture
def page(browser, coordinator):
    """A Page in a fresh browser: page() -> Page."""
    return lambda: Page(browser(), coordinator)
