"""The `hostscore` command with the service's subcommands: `serve`, `worker` and `keys`. The scoring commands
are the library's (scorer.cli); this module only adds what needs the service."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

from scorer import cli as library_cli


def main(argv: list[str] | None = None) -> int:
    return library_cli.main(argv, commands=(_serve_command, _worker_command, _keys_command))


def _data_dir_option(cmd) -> None:
    cmd.add_argument("--data-dir", type=Path, help="the service's database and recordings (default HOSTSCORE_DATA_DIR)")


def _serve_command(sub) -> None:
    cmd = sub.add_parser("serve", help="start the REST API and its embedded worker")
    cmd.add_argument("--host", default="127.0.0.1")
    cmd.add_argument("--port", type=int, default=8000)
    cmd.add_argument("--demo", type=Path, metavar="CALL", help="once started, score this recording through the API and "
                                                               "print its scores and a key for the local tenant")
    _data_dir_option(cmd)
    cmd.set_defaults(run=serve)


def _worker_command(sub) -> None:
    cmd = sub.add_parser("worker", help="a Celery worker scoring the calls the API queues on HOSTSCORE_BROKER_URL")
    _data_dir_option(cmd)
    cmd.set_defaults(run=worker)


def _keys_command(sub) -> None:
    keys = sub.add_parser("keys", help="API keys: create, list, revoke")
    actions = keys.add_subparsers(required=True, metavar="ACTION")
    create = actions.add_parser("create", help="a new key, printed once on the last line")
    create.add_argument("--tenant", required=True)
    create.add_argument("--role", required=True, choices=["platform", "supervisor", "admin"])
    _data_dir_option(create)
    create.set_defaults(run=keys_create)
    listing = actions.add_parser("list", help="every key: id, tenant, role, created, revoked")
    _data_dir_option(listing)
    listing.set_defaults(run=keys_list)
    revoke = actions.add_parser("revoke", help="revoke a key by its id (the part after hs_)")
    revoke.add_argument("key_id")
    _data_dir_option(revoke)
    revoke.set_defaults(run=keys_revoke)


def config(args):
    """The settings, with --data-dir over HOSTSCORE_DATA_DIR."""
    from scorer.settings import settings

    base = settings()
    return base.model_copy(update={"data_dir": args.data_dir}) if args.data_dir else base


def _database(args) -> str:
    from .db.session import database_url, migrate

    cfg = config(args)
    Path(cfg.data_dir).mkdir(parents=True, exist_ok=True)
    url = database_url(cfg.data_dir, cfg.database_url)
    migrate(url)
    return url


def keys_create(args) -> int:
    from .db.session import session
    from .security import create_key

    with session(_database(args)) as s:
        key = create_key(s, args.tenant, args.role)
    print(f"created a {args.role} key for tenant {args.tenant!r}; it is shown only now:")
    print(key)
    return 0


def keys_list(args) -> int:
    from .db.session import session
    from .security import list_keys

    with session(_database(args)) as s:
        for key, tenant in list_keys(s):
            revoked = f"revoked {key.revoked_at:%Y-%m-%d %H:%M}" if key.revoked_at else "active"
            print(f"{key.id}  {tenant.name}  {key.role}  created {key.created_at:%Y-%m-%d %H:%M}  {revoked}")
    return 0


def keys_revoke(args) -> int:
    from .db.session import session
    from .security import revoke_key

    with session(_database(args)) as s:
        if not revoke_key(s, args.key_id):
            raise ValueError(f"no active key {args.key_id}")
    print(f"revoked {args.key_id}")
    return 0


def serve(args) -> int:
    import uvicorn

    from .main import create_app

    cfg = config(args)
    app = create_app(cfg)
    server = uvicorn.Server(uvicorn.Config(app, host=args.host, port=args.port, log_level="info"))
    url = f"http://{args.host}:{args.port}"
    if args.demo:
        threading.Thread(target=_demo, args=(server, url, args, cfg), daemon=True).start()
    else:
        print(f"hostscore serving on {url} (API docs at {url}/docs); data in {cfg.data_dir}", file=sys.stderr)
    server.run()
    return 0


def worker(args) -> int:
    """Load the models once, then score calls one at a time until stopped (the data dir is the API's:
    shared storage when the worker runs on another machine)."""
    from . import metrics
    from .jobs.celery_queue import CeleryQueue, run_worker
    from .main import job_finished, scorer_factory

    cfg = config(args)
    if not cfg.broker_url:
        raise ValueError("hostscore worker needs HOSTSCORE_BROKER_URL (e.g. redis://127.0.0.1:6379/0), the same as the API's")
    url = _database(args)
    metrics.count_in(cfg.data_dir)  # served by the API's /metrics
    jobs = CeleryQueue(url, cfg.broker_url, cfg.broker_queue, cfg.job_lease_s, cfg.job_attempts)
    jobs.on_finished = job_finished
    run_worker(jobs, Path(cfg.data_dir), scorer_factory(cfg)())
    return 0


def _demo(server, url: str, args, cfg) -> None:
    """Score the demo call through the API, as a platform would, and print what a user first sees."""
    import httpx

    from .db.session import session
    from .security import create_key

    while not server.started:
        time.sleep(0.2)
    with session(_database(args)) as s:
        key = create_key(s, "local", "admin")
    headers = {"Authorization": f"Bearer {key}"}
    with open(args.demo, "rb") as f:
        posted = httpx.post(f"{url}/v1/calls", headers=headers, files={"audio": (args.demo.name, f, "audio/wav")},
                            data={"agent_name": "demo agent", "team": "demo"}, timeout=600)
    posted.raise_for_status()
    location = posted.headers["Location"]
    print(f"scoring {args.demo.name} through the API: {url}{location}", file=sys.stderr)
    while (call := httpx.get(url + location, headers=headers, timeout=60).json())["status"] not in ("COMPLETED", "FAILED"):
        time.sleep(1)
    if call["status"] == "FAILED":
        print(f"the demo call failed: {call['failure_reason']}", file=sys.stderr)
    else:
        print(_scores(call["result"]))
    print(f"\nhostscore is serving on {url} (API docs: {url}/docs; data in {cfg.data_dir}). A key for the local "
          f"tenant (admin):\n{key}", flush=True)


def _scores(result: dict) -> str:
    """The scores, their strongest evidence, the outcome and handle time of a result's JSON."""
    lines = [f"{result['id']}: {result['call']['layout']}, handle time {result['handle_time_ms'] / 1000:.0f} s"
             if result.get("handle_time_ms") is not None else f"{result['id']}: {result['call']['layout']}"]
    for quality, score in result["scores"].items():
        if score is None:
            lines.append(f"  {quality:13s} not scored")
            continue
        lines.append(f"  {quality:13s} {score['score']:5.1f} / 100")
        lines += [f"      {e['effect']:+5.1f}  {e['reason']}" for e in score["evidence"][:2]]
    if outcome := result.get("outcome"):
        lines.append(f"  outcome       {outcome['status']} (customer effort {outcome['effort']['score']:.0f}/100)")
    return "\n".join(lines)
