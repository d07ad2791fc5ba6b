"""The coaching workspace in a real headless Chromium (Debian's, driven by Playwright) against a real
`hostscore serve`: sign in with a key, upload a synthesised call through the page and watch it
complete, coach it (a quote plays its moment, the keyboard moves through the turns, a note and an
override survive a reload), the team page, tenants kept apart, and the calls table with 10,000 calls.
Screenshots of every page go to tests/artifacts/ (HOSTSCORE_TEST_ARTIFACTS overrides): look at them."""

import os
import shutil
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest

from conftest import REPO

CHROMIUM = Path(os.environ.get("HOSTSCORE_CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = Path(os.environ.get("HOSTSCORE_TEST_ARTIFACTS") or REPO / "tests" / "artifacts")


def _missing(reason: str):
    if os.environ.get("CI") == "true":  # CI runs the browser tests or fails: never a silent skip
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("playwright is not installed (pip install -e '.[test]')")
    if not CHROMIUM.exists() or shutil.which(str(CHROMIUM)) is None:
        _missing(f"no Chromium at {CHROMIUM} (apt-get install chromium, or set HOSTSCORE_CHROMIUM)")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM),
                                              args=["--autoplay-policy=no-user-gesture-required"])
        yield launched
        launched.close()


class Tab:
    """A signed-in browser tab that remembers every console error and uncaught exception."""

    def __init__(self, browser, service, key: str):
        self.context = browser.new_context(viewport={"width": 1440, "height": 900}, base_url=service.url)
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.goto("/calls")
        assert "/sign-in" in self.page.url  # not signed in yet: sent to sign in
        self.page.fill("#key", key)
        self.page.click("button[type=submit]")
        self.page.wait_for_url("**/calls")

    def shot(self, name: str, full_page: bool = True) -> Path:
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=full_page)
        print(f"screenshot: {path}")
        return path

    def close(self) -> None:
        self.context.close()


@pytest.fixture(scope="module")
def coach(browser, service):
    tab = Tab(browser, service, service.key("admin"))
    yield tab
    tab.close()


TIMED_CHATS = {  # (agent, handle time in s, what was said): short calls that go badly, long ones that go well
    "quick": [("AGENT", "Yeah, what do you want?"), ("CUSTOMER", "My card was declined, this is ridiculous."),
              ("AGENT", "Not my problem, call the bank. Bye."), ("CUSTOMER", "Unbelievable. Useless.")],
    "careful": [("AGENT", "Thanks for calling Brightline, this is Dana, how can I help you today?"),
                ("CUSTOMER", "My card was declined twice today and I'm really annoyed."),
                ("AGENT", "I'm so sorry, that's frustrating. Let me look right now. I can see a fraud hold, I've lifted it."),
                ("CUSTOMER", "Oh great, thank you so much, that's sorted then. You've been really helpful.")],
}


def post_timed_chat(service, agent: str, lines, seconds_per_turn: float, tenant="acme") -> str:
    turns, at = [], 0
    for speaker, text in lines:
        turns.append({"speaker": speaker, "text": text, "begin_ms": at, "end_ms": at + int(seconds_per_turn * 1000)})
        at += int(seconds_per_turn * 1000) + 400
    posted = httpx.post(f"{service.url}/v1/transcripts", json={"turns": turns}, params={"agent_id": agent, "team": "cards"},
                        headers=service.headers("platform", tenant), timeout=30)
    assert posted.status_code == 202, posted.text
    return posted.json()["id"]


@pytest.fixture(scope="module")
def uploaded(coach, service, resolved_stereo_8k, bad_inputs):
    """A synthesised call uploaded through the page with a file that is not a recording beside it;
    returns the scored call (from the API) once the page's queue shows it COMPLETED."""
    page = coach.page
    page.fill("input[name=agent_id]", "a-7")
    page.fill("input[name=agent_name]", "Sam Reyes")
    page.fill("input[name=team]", "cards")
    page.set_input_files("#files", [str(resolved_stereo_8k.path), str(bad_inputs["text_as_wav"])])
    rows = page.locator("#uploads li")
    rows.nth(0).wait_for()
    page.wait_for_function("document.querySelectorAll('#uploads li[data-call], #uploads li.failed').length === 2")
    refused = page.locator("#uploads li.failed")
    assert refused.count() == 1 and "not a recording hostscore can read" in refused.inner_text()
    coach.errors.remove("Failed to load resource: the server responded with a status of 415 (Unsupported Media Type)")
    accepted = page.locator("#uploads li[data-call]")
    assert accepted.locator("progress").get_attribute("value") == "100"
    call_id = accepted.get_attribute("data-call")
    # the queue shows it live: QUEUED or IN_PROGRESS (with the stage), then COMPLETED
    page.wait_for_selector(f'#queue li[data-call="{call_id}"]', timeout=30_000)
    coach.shot("calls-queue", full_page=False)
    page.wait_for_selector(f'#queue li[data-call="{call_id}"][data-status="COMPLETED"]', timeout=300_000)
    call = service.wait_for(call_id)
    assert (call["agent_id"], call["agent_name"], call["team"], call["filename"]) == ("a-7", "Sam Reyes", "cards", "resolved_stereo_8k.wav")
    return call


def test_an_upload_through_the_page_is_queued_scored_and_listed(coach, uploaded):
    page = coach.page
    page.reload()
    row = page.locator("table.calls tbody tr", has=page.locator(f'a[href="/calls/{uploaded["id"]}"]'))
    assert row.count() == 1
    cells = row.locator("td").all_inner_texts()
    assert "Sam Reyes" in cells[1] and cells[2] == "cards"
    assert cells[6] == f"{uploaded['satisfaction']:.0f}" and cells[7] == uploaded["outcome"]
    coach.shot("calls")
    assert coach.errors == []


def test_the_table_filters_searches_and_sorts(coach, service, uploaded):
    page = coach.page
    ids = [post_timed_chat(service, agent, lines, 2.0) for agent, lines in TIMED_CHATS.items()]
    for call_id in ids:
        service.wait_for(call_id)
    listed = lambda: [a.get_attribute("href").rsplit("/", 1)[1] for a in page.locator("table.calls tbody tr td:first-child a").all()]
    page.goto("/calls?q=fraud+HOLD")  # words of the careful agent's call, in another case
    assert listed() == [ids[1]]
    page.goto("/calls")
    page.fill("input[name=agent]", "quick")
    page.click("form.filters button[type=submit]")
    assert listed() == [ids[0]]
    page.goto("/calls?sort=satisfaction")
    scores = [float(t) for t in page.locator("table.calls tbody tr td:nth-child(7)").all_inner_texts()]
    assert scores == sorted(scores) and len(scores) >= 3
    page.click("th >> text=Satisfaction")  # the header turns the sort around
    again = [float(t) for t in page.locator("table.calls tbody tr td:nth-child(7)").all_inner_texts()]
    assert again == sorted(scores, reverse=True)
    assert coach.errors == []


def test_the_coaching_view_plays_each_quoted_moment(coach, uploaded):
    page = coach.page
    page.goto(f"/calls/{uploaded['id']}")
    page.wait_for_function("document.getElementById('audio').readyState >= 1")
    page.wait_for_selector("#waveform canvas", state="attached", timeout=20_000)  # wavesurfer drew the waveform
    quotes = page.locator(".quality a.moment")
    assert quotes.count() > 0
    moments = [m for q in ("connection", "energy", "satisfaction") for e in uploaded["result"]["scores"][q]["evidence"]
               for m in e["moments"]]
    assert quotes.count() == len(moments)
    # a quote late in the call, so the move is not from zero by chance
    target = max(range(quotes.count()), key=lambda i: int(quotes.nth(i).get_attribute("data-ms")))
    quote = quotes.nth(target)
    moment_s = int(quote.get_attribute("data-ms")) / 1000
    assert moment_s > 1
    quote.click()
    # the position is set at once, or as soon as the first audio data arrives
    page.wait_for_function(f"document.getElementById('audio').currentTime >= {moment_s - 0.05}", timeout=10_000)
    position = page.evaluate("document.getElementById('audio').currentTime")
    assert moment_s - 0.05 <= position <= moment_s + 1.5
    current = page.locator(".turn.current")
    assert current.count() == 1 and current.get_attribute("data-index") == quote.get_attribute("data-turn")
    page.evaluate("document.getElementById('audio').pause()")
    coach.shot("call")
    assert coach.errors == []


def test_the_keyboard_plays_pauses_and_moves_between_turns(coach, uploaded):
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    page = coach.page
    page.goto(f"/calls/{uploaded['id']}")
    # keys pressed as soon as the recording's length is known, as a hurried coach would, often before
    # any of its audio has arrived: the page must hold the position until the player can take it
    page.wait_for_function("document.getElementById('audio').readyState >= 1")
    audio = "document.getElementById('audio')"
    begins = [t["begin_ms"] / 1000 for t in uploaded["result"]["turns"]]
    first = next(i for i, begin in enumerate(begins) if begin > 0.05)  # the player starts at 0
    current = lambda: page.locator(".turn.current").get_attribute("data-index")
    page.locator("h1").click()  # focus on the page, not a control
    page.keyboard.press("ArrowRight")
    assert current() == str(first)
    page.keyboard.press("ArrowRight")
    assert current() == str(first + 1)
    page.keyboard.press("ArrowLeft")
    assert current() == str(first)
    page.keyboard.press(" ")
    try:
        page.wait_for_function(f"!{audio}.paused && {audio}.currentTime > {begins[first] + 0.2}", timeout=10_000)
    except PlaywrightTimeout:  # say what the player was doing, so a failure here can be read
        state = page.evaluate(f"""({{paused: {audio}.paused, seeking: {audio}.seeking, time: {audio}.currentTime,
            ready: {audio}.readyState, network: {audio}.networkState, error: {audio}.error && {audio}.error.message,
            status: document.getElementById('player-status').textContent}})""")
        pytest.fail(f"playback did not move 0.2 s within 10 s of Space: {state}, console {coach.errors}")
    assert page.evaluate(f"{audio}.currentTime") < begins[first] + 5  # it played from the turn, not from 0
    page.keyboard.press(" ")
    assert page.evaluate(f"{audio}.paused")
    page.keyboard.press("ArrowRight")  # with audio in hand the position moves at once
    assert page.evaluate(f"{audio}.currentTime") == pytest.approx(begins[first + 1], abs=0.01)
    assert current() == str(first + 1)
    assert coach.errors == []


def test_a_note_and_an_override_are_kept_beside_the_machine_score(coach, service, uploaded):
    page = coach.page
    page.goto(f"/calls/{uploaded['id']}")
    page.fill("#note", "Warm greeting. Next time confirm the new card date before closing.")
    page.fill("input[name=satisfaction]", "35")
    page.select_option("select[name=outcome]", "deferred")
    page.click(".review-form button[type=submit]")
    page.wait_for_url(f"**/calls/{uploaded['id']}#reviews")
    page.reload()
    review = page.locator(".review").last
    assert "Next time confirm the new card date" in review.inner_text()
    satisfaction = page.locator(".quality[aria-label=satisfaction]")
    machine = f"{uploaded['satisfaction']:.0f}"
    assert satisfaction.locator(".score.big").inner_text() == machine  # the machine's score stays in view
    assert "Coach: 35" in satisfaction.locator(".override").inner_text()
    assert f"machine {machine}" in satisfaction.locator(".override").inner_text()
    assert "Coach: deferred" in page.locator("#outcome-heading + p").inner_text()
    stored = httpx.get(f"{service.url}/v1/calls/{uploaded['id']}/reviews", headers=service.headers("supervisor")).json()
    assert stored[-1]["overrides"] == {"satisfaction": 35.0, "outcome": "deferred"}
    page.locator("#reviews").scroll_into_view_if_needed()
    coach.shot("call-reviews", full_page=False)
    page.emulate_media(media="print")
    coach.shot("call-print")
    page.emulate_media(media="screen")
    assert coach.errors == []


def test_the_team_page_shows_agents_scatter_and_short_bad_calls(browser, service, uploaded):
    for _ in range(2):  # the quick agent's calls are short and bad, twice
        service.wait_for(post_timed_chat(service, "quick", TIMED_CHATS["quick"], 1.5))
    service.wait_for(post_timed_chat(service, "careful", TIMED_CHATS["careful"], 6.0))
    tab = Tab(browser, service, service.key("supervisor"))
    try:
        page = tab.page
        page.click("nav >> text=Team")
        page.wait_for_selector("#scatter")
        short_bad = page.locator("section[aria-labelledby=short-bad-heading] tbody tr")
        assert short_bad.count() >= 1 and "quick" in short_bad.first.inner_text()
        assert "careful" not in page.locator("section[aria-labelledby=short-bad-heading]").inner_text()
        agents = page.locator("section[aria-labelledby=agents-heading] tbody tr").all_inner_texts()
        assert any("a-7" in row for row in agents) and any("quick" in row for row in agents)
        csv = page.request.get(page.get_attribute("a[href^='/v1/reports/agents']", "href"))
        assert csv.ok and csv.headers["content-type"].startswith("text/csv")
        assert csv.text().splitlines()[0].startswith("agent_id,agent_name,calls,average_handle_time_s")
        tab.shot("team")
        # a point of the scatter opens its call
        point = page.evaluate("""() => { const chart = Chart.getChart('scatter');
            const element = chart.getDatasetMeta(0).data[0]; return {x: element.x, y: element.y,
            id: chart.data.datasets[0].data[0].id}; }""")
        box = page.locator("#scatter").bounding_box()
        page.mouse.click(box["x"] + point["x"], box["y"] + point["y"])
        page.wait_for_url(f"**/calls/{point['id']}")
        assert tab.errors == []
    finally:
        tab.close()


def test_another_tenant_sees_none_of_it(browser, service, uploaded):
    tab = Tab(browser, service, service.key("supervisor", tenant="globex"))
    try:
        page = tab.page
        assert page.locator("table.calls tbody tr td.empty").count() == 1
        assert uploaded["id"] not in page.content()
        opened = page.goto(f"/calls/{uploaded['id']}")
        assert opened.status == 404 and "Not found" in page.locator("h1").inner_text()
        assert page.request.get(f"/v1/calls/{uploaded['id']}/audio").status == 404
        assert page.request.get(f"/v1/calls/{uploaded['id']}/reviews").status == 404
        page.goto("/team")
        assert "No scored calls" in page.locator("main").inner_text()
        tab.shot("other-tenant")
    finally:
        tab.close()


def test_signing_in_with_a_bad_key_and_out(browser, service):
    context = browser.new_context(base_url=service.url)
    page = context.new_page()
    try:
        page.goto("/sign-in")
        page.fill("#key", "hs_nothing_wrong")
        page.click("button[type=submit]")
        assert "not valid" in page.locator("[role=alert]").inner_text()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "sign-in.png"))
        assert page.request.get("/v1/calls").status == 401  # no session, no key
        page.fill("#key", service.key("supervisor"))
        page.click("button[type=submit]")
        page.wait_for_url("**/calls")
        cookie = next(c for c in context.cookies() if c["name"] == "hostscore_session")
        assert cookie["httpOnly"] and service.key("supervisor") not in cookie["value"]
        assert page.request.get("/v1/calls").status == 200  # the session works for the API's reads
        # a write with the cookie but from another site's page is refused
        forged = page.request.post(f"/v1/calls/{uuid.uuid4()}/reviews", data={"note": "x"},
                                   headers={"Origin": "https://evil.example"})
        assert forged.status == 403
        page.click("text=Sign out")
        page.wait_for_url("**/sign-in")
        assert page.request.get("/v1/calls").status == 401
        # revoking a key ends the sessions made from it
        revoked = service.key("supervisor", tenant="leaving")
        page.fill("#key", revoked)
        page.click("button[type=submit]")
        page.wait_for_url("**/calls")
        service.hostscore("keys", "revoke", revoked.split("_")[1])
        assert page.request.get("/v1/calls").status == 401
        page.goto("/calls")
        assert "/sign-in" in page.url
    finally:
        context.close()


def test_the_calls_table_pages_10000_calls_quickly(browser, service):
    """Keyset paging: the last page costs what the first does, in any sort."""
    from sqlalchemy import insert

    from api.db.models import Call, Tenant
    from api.db.session import database_url, session

    key = service.key("supervisor", tenant="bulk")
    url = database_url(service.data_dir, None)
    start = datetime(2026, 11, 1, tzinfo=timezone.utc)
    with session(url) as s:
        tenant_id = s.query(Tenant.id).filter(Tenant.name == "bulk").scalar()
        s.execute(insert(Call), [
            {"id": str(uuid.UUID(int=i)), "tenant_id": tenant_id, "kind": "text", "status": "COMPLETED",
             "agent_id": f"agent-{i % 40}", "team": f"team-{i % 5}", "created_at": start + timedelta(seconds=97 * i),
             "connection": (i * 37) % 101, "energy": (i * 53) % 101, "satisfaction": None if i % 500 == 0 else (i * 71) % 101,
             "outcome": ("resolved", "deferred", "unresolved")[i % 3], "handle_time_ms": 30_000 + (i * 7919) % 900_000,
             "transcript_text": f"call number {i} about a {'refund' if i % 10 == 0 else 'card'}", "labels": {},
             "agent_channel": "auto", "reviewed": i % 4 == 0, "attempts": 1, "updated_at": start}
            for i in range(10_000)])
    tab = Tab(browser, service, key)
    try:
        page = tab.page
        seen, values, slowest, cursor_url = [], [], 0.0, "/calls?sort=-satisfaction"
        for _ in range(4):
            began = time.perf_counter()
            page.goto(cursor_url)
            slowest = max(slowest, time.perf_counter() - began)
            seen += [a.get_attribute("href") for a in page.locator("table.calls tbody td:first-child a").all()]
            values += [float(t) for t in page.locator("table.calls tbody td:nth-child(7)").all_inner_texts()]
            cursor_url = page.get_attribute("a[rel=next]", "href")
        assert len(seen) == len(set(seen)) == 200 and values == sorted(values, reverse=True)
        api = httpx.get(f"{service.url}/v1/calls", params={"sort": "-satisfaction", "limit": 50},
                        headers={"Authorization": f"Bearer {key}"}).json()
        assert [f"/calls/{c['id']}" for c in api["calls"]] == seen[:50]  # the API pages the same service
        searched = httpx.get(f"{service.url}/v1/calls", params={"q": "REFUND", "limit": 500},
                             headers={"Authorization": f"Bearer {key}"}).json()["calls"]
        assert len(searched) == 500 and all(int(uuid.UUID(c["id"])) % 10 == 0 for c in searched)
        began = time.perf_counter()
        page.goto("/calls?q=refund&below_quality=connection&below=20&unreviewed=true")
        slowest = max(slowest, time.perf_counter() - began)
        connection = [float(t) for t in page.locator("table.calls tbody td:nth-child(5)").all_inner_texts()]
        assert len(connection) == 50 and max(connection) <= 20  # over 100 calls match; a page is 50
        assert page.locator("table.calls tbody td:last-child").all_inner_texts() == [""] * 50  # none reviewed
        assert slowest < 2.0, f"a page of the 10,000 calls took {slowest:.2f} s"
        tab.shot("calls-10000")
        assert tab.errors == []
    finally:
        tab.close()


@pytest.mark.parametrize("asked,goes_to", [("/calls/abc?x=1", "/calls/abc?x=1"), ("//evil.example", "/calls"),
                                           ("/\\evil.example", "/calls"), ("https://evil.example/", "/calls"),
                                           (None, "/calls")])
def test_signing_in_goes_back_only_to_a_page_of_this_site(asked, goes_to):
    from api.routes.session import local

    assert local(asked) == goes_to
