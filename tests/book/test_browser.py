"""The HTML book as a reader sees it: every page opened in headless Chromium, offline.

Chromium runs with the network disabled (every http(s) request goes to a dead
proxy; the pages are read from file://), and is driven through the DevTools
protocol over a websocket (tornado's client, already in the environment). For
each page we record console errors, failed or outside requests, images that did
not load, math that MathJax did not render and raw TeX left visible, and keep a
screenshot in _build/smoke/screenshots/. Every page is opened again at a phone's width
(420 px, screenshots in screenshots/420/), where a display or table wider than the
screen must scroll in its own box with a visible cue and its equation number in view.
"""

import asyncio
import base64
import itertools
import json
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from tornado.websocket import websocket_connect

from tests.book.test_pdf import toc_docnames

pytestmark = pytest.mark.book

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or "chromium"
# Without the networking flags a headless Chromium floods a closed network with retries.
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>",  # network off
    "--window-size=1300,900", "--hide-scrollbars", "--remote-debugging-port=0",
]  # fmt: skip
WIDTH = 1300  # a desktop reading width: no equation may be clipped or scrolled at it
PHONE_WIDTH = 420
MIN_CAPTION_CONTRAST = 4.5  # WCAG AA for body-size text
RAW_TEX = ("$$", "\\frac", "\\partial", "\\begin{", "\\(", "\\[")
# MathJax typesets asynchronously; wait for it, or report that it never finished.
WAIT_FOR_MATHJAX = """
(window.MathJax && MathJax.startup && MathJax.startup.promise
  ? MathJax.startup.promise.then(() => "typeset")
  : Promise.resolve("no MathJax on this page"))
"""
INSPECT_PAGE = r"""
(() => {
  const broken = [...document.images]
    .filter(img => !(img.complete && img.naturalWidth > 0))
    .map(img => img.getAttribute("src"));
  const math = [...document.querySelectorAll(".math")];
  const unrendered = math.filter(m => !m.querySelector("mjx-container"))
    .map(m => m.textContent.trim().slice(0, 80));
  const mjx = document.querySelectorAll("mjx-container").length;
  // Wider than their box: scrolled (or clipped) sideways.
  const wide = el => el.scrollWidth > el.clientWidth + 1;
  const article = document.querySelector(".bd-article") || document.body;
  const edge = article.getBoundingClientRect().right + 1;
  const equations = [...document.querySelectorAll('mjx-container[display="true"], div.math')]
    .filter(el => wide(el) || el.getBoundingClientRect().right > edge)
    .map(el => (el.closest("div.math") || el).textContent.trim().slice(0, 60));
  const code = [...document.querySelectorAll("pre")].filter(wide)
    .map(el => el.textContent.trim().slice(0, 60));
  // Every image of the page's content is a figure with a caption, and its alt text says
  // what it shows: words, not a file name.
  const figures = [...article.querySelectorAll("img")].map(img => {
    const caption = img.closest("figure")?.querySelector("figcaption")?.textContent.trim() || "";
    const alt = (img.getAttribute("alt") || "").trim();
    return {src: (img.getAttribute("src") || "").split("/").pop(), caption, alt};
  });
  // The visible prose: hide code (which may show TeX on purpose) and typeset math.
  const style = document.createElement("style");
  style.textContent = "pre, code, mjx-container, .highlight { display: none !important; }";
  document.head.appendChild(style);
  const prose = document.body.innerText;
  style.remove();
  // Captions: the contrast of their text against what is behind it (WCAG's formula).
  const rgba = s => (s.match(/[\d.]+/g) || []).map(Number);
  const luminance = ([r, g, b]) => {
    const f = c => (c /= 255) <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const background = el => {
    for (let e = el; e; e = e.parentElement) {
      const c = rgba(getComputedStyle(e).backgroundColor);
      if (c.length === 3 || (c.length === 4 && c[3] > 0.5)) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  const contrast = el => {
    const fg = rgba(getComputedStyle(el).color), bg = background(el);
    const alpha = fg.length === 4 ? fg[3] : 1;  // a translucent text colour, blended
    const seen = fg.slice(0, 3).map((c, i) => alpha * c + (1 - alpha) * bg[i]);
    const [hi, lo] = [luminance(seen), luminance(bg)].sort((a, b) => b - a);
    return (hi + 0.05) / (lo + 0.05);
  };
  const captions = [...article.querySelectorAll("figcaption, figcaption *")]
    .filter(el => !el.closest(".headerlink"))  // the permalink "#", shown on hover only
    .filter(el => [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim()))
    .map(el => ({text: el.textContent.trim().slice(0, 50), contrast: contrast(el)}));
  return JSON.stringify({broken, unrendered, mjx, math: math.length, prose, equations, code,
                         figures, captions});
})()
"""
# At a phone's width: every display (and table) either fits the screen, or scrolls in a box
# of its own that shows a cue (the scroll shadows of book/_static/bnbook.css), with its
# equation number on the screen; every figure shrunk to fit links to its full-size image.
INSPECT_PHONE = r"""
(() => {
  const screen = document.documentElement.clientWidth;
  const scrolls = el => ["auto", "scroll"].includes(getComputedStyle(el).overflowX);
  const scroller = el => {
    for (let e = el; e && e !== document.body; e = e.parentElement)
      if (scrolls(e) && e.scrollWidth > e.clientWidth + 1) return e;
    return null;
  };
  const cue = el => /gradient/.test(getComputedStyle(el).backgroundImage);
  const onScreen = r => r.left >= -1 && r.right <= screen + 1;
  const problems = [];
  const displays = [...document.querySelectorAll(
      'div.math, mjx-container[display="true"], .bd-article table')]
    .filter(el => !(el.matches("mjx-container") && el.closest("div.math")));
  for (const el of displays) {
    const what = (el.matches("table") ? "table: " : "display: ")
      + el.textContent.trim().replace(/\s+/g, " ").slice(0, 50);
    const own = el.getBoundingClientRect();
    const box = scroller(el);
    const shown = box ? box.getBoundingClientRect() : {left: 0, right: screen};
    const right = box ? shown.left + box.scrollWidth
                      : Math.max(own.right, own.left + el.scrollWidth);
    const number = el.querySelector(".eqno");
    if (number && !onScreen(number.getBoundingClientRect()))
      problems.push(`${what}: its number is off the screen`);
    if (right <= Math.min(shown.right, screen) + 1) continue;  // fits
    if (!box) problems.push(`${what}: wider than the screen and nothing scrolls`);
    else if (!onScreen(shown)) problems.push(`${what}: its scrolling box is off the screen`);
    else if (!cue(box)) problems.push(`${what}: scrolls with no cue that it does`);
  }
  if (document.documentElement.scrollWidth > screen + 1)
    problems.push(`the page scrolls sideways (${document.documentElement.scrollWidth} px)`);
  for (const img of document.querySelectorAll(".bd-article figure img")) {
    const shrunk = img.naturalWidth > 1.1 * img.getBoundingClientRect().width;
    const link = img.closest("a[href]");
    const file = (img.getAttribute("src") || "").split("/").pop();
    if (shrunk && !(link && link.getAttribute("href").endsWith(file)))
      problems.push(`figure ${file}: shrunk to fit and not linked to its full size`);
  }
  return JSON.stringify(problems);
})()
"""


@dataclass
class PageReport:
    docname: str
    errors: list[str] = field(default_factory=list)
    outside_requests: list[str] = field(default_factory=list)
    broken_images: list[str] = field(default_factory=list)
    unrendered_math: list[str] = field(default_factory=list)
    raw_tex: list[str] = field(default_factory=list)
    wide_equations: list[str] = field(default_factory=list)
    wide_code: list[str] = field(default_factory=list)
    figures: list[dict] = field(default_factory=list)
    captions: list[dict] = field(default_factory=list)
    phone_problems: list[str] = field(default_factory=list)
    math_elements: int = 0
    mjx_containers: int = 0
    mathjax: str = ""


class DevTools:
    """The smallest DevTools-protocol client: commands with replies, events in a list."""

    def __init__(self, ws):
        self.ws, self.ids, self.pending, self.events = ws, itertools.count(1), {}, []
        self.reader = asyncio.ensure_future(self._read())

    async def _read(self):
        while (message := await self.ws.read_message()) is not None:
            message = json.loads(message)
            if "id" in message and message["id"] in self.pending:
                self.pending.pop(message["id"]).set_result(message)
            else:
                self.events.append(message)

    async def send(self, method, session=None, timeout=30, **params):
        message = {"id": next(self.ids), "method": method, "params": params}
        if session:
            message["sessionId"] = session
        reply = asyncio.get_running_loop().create_future()
        self.pending[message["id"]] = reply
        await self.ws.write_message(json.dumps(message))
        reply = await asyncio.wait_for(reply, timeout)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply["result"]

    async def wait_for(self, method, session, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(
                e.get("method") == method and e.get("sessionId") == session for e in self.events
            ):
                return
            await asyncio.sleep(0.05)
        raise TimeoutError(f"no {method} within {timeout} s")


def session_problems(events, session) -> tuple[list[str], list[str]]:
    """Console errors, uncaught exceptions and failed loads; requests that left the machine."""
    errors, outside = [], []
    for event in (e for e in events if e.get("sessionId") == session):
        method, params = event["method"], event.get("params", {})
        if method == "Runtime.consoleAPICalled" and params["type"] in ("error", "assert"):
            errors.append("console: " + " ".join(str(a.get("value", a)) for a in params["args"]))
        elif method == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            thrown = details.get("exception", {}).get("description", "")
            errors.append(f"exception: {details.get('text', '')} {thrown} {details.get('url', '')}")
        elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
            errors.append(f"log: {params['entry']['text']} {params['entry'].get('url', '')}")
        elif method == "Network.loadingFailed" and not params.get("canceled"):
            errors.append(f"load failed: {params.get('errorText')}")
        elif method == "Network.requestWillBeSent":
            url = params["request"]["url"]
            if not url.startswith(("file:", "data:", "blob:", "about:")):
                outside.append(url)
    return errors, outside


async def inspect_pages(
    html_dir: Path, docnames: list[str], shots: Path, width: int = WIDTH
) -> list[PageReport]:
    profile = tempfile.mkdtemp(prefix="bnbook-chromium-")
    browser = subprocess.Popen(
        [CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "about:blank"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        port_file = Path(profile) / "DevToolsActivePort"
        for _ in range(300):
            if port_file.exists() and len(port_file.read_text().split()) == 2:
                break
            time.sleep(0.1)
        port, path = port_file.read_text().split()
        ws = await websocket_connect(f"ws://127.0.0.1:{port}{path}", max_message_size=2**26)
        devtools = DevTools(ws)
        reports = [await inspect_page(devtools, html_dir, doc, shots, width) for doc in docnames]
        ws.close()
        return reports
    finally:
        browser.terminate()
        try:
            browser.wait(timeout=10)
        except subprocess.TimeoutExpired:
            browser.kill()
        shutil.rmtree(profile, ignore_errors=True)


async def inspect_page(devtools, html_dir, docname, shots, width=WIDTH) -> PageReport:
    target = (await devtools.send("Target.createTarget", url="about:blank"))["targetId"]
    session = (await devtools.send("Target.attachToTarget", targetId=target, flatten=True))[
        "sessionId"
    ]
    for domain in ("Page", "Runtime", "Log", "Network"):
        await devtools.send(f"{domain}.enable", session)
    await devtools.send("Emulation.setDeviceMetricsOverride", session, width=width, height=900,
                        deviceScaleFactor=1, mobile=width < WIDTH)  # fmt: skip
    url = (html_dir / f"{docname}.html").resolve().as_uri()
    await devtools.send("Page.navigate", session, url=url)
    await devtools.wait_for("Page.loadEventFired", session)
    report = PageReport(docname)
    evaluated = await devtools.send("Runtime.evaluate", session, timeout=60,
                                    expression=WAIT_FOR_MATHJAX, awaitPromise=True)  # fmt: skip
    report.mathjax = evaluated["result"].get("value", str(evaluated))
    await asyncio.sleep(0.3)  # late console messages and image decodes
    shot = await devtools.send("Page.captureScreenshot", session, format="png")
    (shots / f"{docname.replace('/', '__')}.png").write_bytes(base64.b64decode(shot["data"]))
    if width < WIDTH:
        evaluated = await devtools.send("Runtime.evaluate", session, expression=INSPECT_PHONE)
        report.phone_problems = json.loads(evaluated["result"]["value"])
    evaluated = await devtools.send("Runtime.evaluate", session, expression=INSPECT_PAGE)
    page = json.loads(evaluated["result"]["value"])
    report.broken_images, report.unrendered_math = page["broken"], page["unrendered"]
    report.math_elements, report.mjx_containers = page["math"], page["mjx"]
    report.wide_equations, report.wide_code = page["equations"], page["code"]
    report.figures, report.captions = page["figures"], page["captions"]
    report.raw_tex = [
        line.strip()[:120]
        for line in page["prose"].splitlines()
        if any(token in line for token in RAW_TEX)
    ]
    report.errors, report.outside_requests = session_problems(devtools.events, session)
    await devtools.send("Target.closeTarget", targetId=target)
    return report


@pytest.fixture(scope="module")
def reports(smoke_book) -> dict[str, PageReport]:
    html_dir = smoke_book / "html"
    shots = smoke_book.parent / "screenshots"
    shutil.rmtree(shots, ignore_errors=True)
    shots.mkdir(parents=True)
    docnames = toc_docnames()
    found = asyncio.run(asyncio.wait_for(inspect_pages(html_dir, docnames, shots), 600))
    return {r.docname: r for r in found}


@pytest.fixture(scope="module")
def phone_reports(smoke_book) -> dict[str, PageReport]:
    shots = smoke_book.parent / "screenshots" / str(PHONE_WIDTH)
    shots.mkdir(parents=True, exist_ok=True)
    docnames = toc_docnames()
    found = asyncio.run(
        asyncio.wait_for(inspect_pages(smoke_book / "html", docnames, shots, PHONE_WIDTH), 600)
    )
    return {r.docname: r for r in found}


def failures(reports, attribute) -> dict[str, list]:
    return {doc: getattr(r, attribute) for doc, r in reports.items() if getattr(r, attribute)}


def test_every_page_was_opened(reports):
    assert list(reports) == toc_docnames()


def test_no_console_errors(reports):
    assert not failures(reports, "errors")


def test_no_request_leaves_the_machine(reports):
    assert not failures(reports, "outside_requests")


def test_every_image_loads(reports):
    assert not failures(reports, "broken_images")


def test_math_renders_offline(reports):
    """MathJax (served from the build, not a CDN) typesets every formula on every page."""
    assert not failures(reports, "unrendered_math")
    assert not failures(reports, "raw_tex")
    with_math = [r for r in reports.values() if r.math_elements]
    assert with_math, "no page has math: has MathJax output changed its markup?"
    for report in with_math:
        assert report.mathjax == "typeset", (report.docname, report.mathjax)
        assert report.mjx_containers >= report.math_elements, report.docname


def test_screenshots_are_kept(reports, smoke_book):
    shots = sorted((smoke_book.parent / "screenshots").glob("*.png"))  # 1300 px only
    assert len(shots) == len(reports)
    assert all(s.stat().st_size > 5_000 for s in shots), "a blank screenshot"


def test_no_equation_is_clipped_or_scrolled(reports):
    """At 1300 px every displayed equation fits its column (break long ones with aligned)."""
    assert not failures(reports, "wide_equations")


def test_code_wraps(reports):
    assert not failures(reports, "wide_code")


def alt_text_problem(figure: dict) -> str | None:
    alt = figure["alt"]
    if not figure["caption"]:
        return "no caption"
    if len(alt.split()) < 4:
        return f"alt text {alt!r} does not say what it shows"
    if re.search(r"\.(svg|png|pdf|jpe?g)\b|[0-9a-f]{16}", alt):
        return f"alt text {alt!r} is a file name"
    return None


def test_every_figure_has_a_caption_and_alt_text(reports):
    problems = {
        doc: [f"{f['src']}: {problem}" for f in r.figures if (problem := alt_text_problem(f))]
        for doc, r in reports.items()
    }
    problems = {doc: found for doc, found in problems.items() if found}
    assert not problems, problems
    assert any(r.figures for r in reports.values()), "no figures found: has the markup changed?"


def test_displays_fit_or_scroll_with_a_cue_on_a_phone(phone_reports):
    """At 420 px no display, equation number or table is hidden without a sign of it, and
    every shrunk figure opens full size on a tap."""
    assert not failures(phone_reports, "phone_problems")
    assert any(r.mjx_containers for r in phone_reports.values()), "no math measured"


def test_captions_have_enough_contrast(reports):
    low = {
        doc: [f"{c['text']!r}: {c['contrast']:.2f}" for c in r.captions
              if c["contrast"] < MIN_CAPTION_CONTRAST]
        for doc, r in reports.items()
    }  # fmt: skip
    low = {doc: found for doc, found in low.items() if found}
    assert not low, f"captions under {MIN_CAPTION_CONTRAST}:1 contrast: {low}"
    assert any(r.captions for r in reports.values()), "no captions measured"
