"""The `telco-mcp` command.

    telco-mcp [serve]            run the MCP server (stdio; --transport http|sse for HTTP)
    telco-mcp sandbox            serve the provider sandbox on 127.0.0.1 over real HTTP
    telco-mcp tools              what would be exposed, and why each other tool is hidden
    telco-mcp manifest [--check] regenerate (or verify) tool_manifests/, docs/tools.md, server.json
    telco-mcp doctor             check each configured provider's credentials with one cheap read
    telco-mcp config CLIENT      print (or --write) a client's configuration for this install
    telco-mcp approvals ...      list, show, approve or deny pending writes (out-of-band approval)
    telco-mcp approvers ...      enrol, list or remove the approvers' passkeys

Secrets are never taken from the command line: they come from the environment or `.env`.
Logs go to stderr; stdout belongs to the stdio protocol.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from pathlib import Path
from typing import Any

from telco_mcp import __version__, last_error
from telco_mcp.errors import ConfigError, TelcoError
from telco_mcp.settings import Settings, default_state_dir, load_settings

logger = logging.getLogger("telco_mcp")


def _configure_logging(level: str, settings: Settings | None = None) -> None:
    """stderr only, at `level`, in TELCO_MCP_LOG_FORMAT (lines before the settings are read are text)."""
    from telco_mcp.ops.logs import configure

    configure(level, settings.telco_mcp_log_format if settings is not None else "text")


def _settings(args: argparse.Namespace) -> Settings:
    overrides: dict[str, object] = {}
    if getattr(args, "sandbox", False):
        overrides["telco_mcp_sandbox"] = True
    if getattr(args, "allow_writes", False):
        overrides["telco_mcp_allow_writes"] = True
    if getattr(args, "read_only", False):
        overrides["telco_mcp_allow_writes"] = False
    if getattr(args, "accept_unconfirmed", False):
        overrides["telco_mcp_confirm_off_acknowledged"] = True
    return load_settings(**overrides)


def sandbox_reason(args: argparse.Namespace, settings: Settings) -> str:
    """Why the sandbox serves: the flag, the variable, or the absence of credentials."""
    if getattr(args, "sandbox", False):
        return "--sandbox was given"
    if settings.telco_mcp_sandbox:
        return "TELCO_MCP_SANDBOX is set"
    return "no provider credentials are configured"


def cmd_serve(args: argparse.Namespace) -> int:
    from telco_mcp.server import build_server
    from telco_mcp.transports import check_network_settings, listen, serve

    settings = _settings(args).check()
    if args.transport == "stdio" and settings.telco_mcp_four_eyes != "off":
        raise ConfigError(
            f"TELCO_MCP_FOUR_EYES={settings.telco_mcp_four_eyes} needs the HTTP transports with OAuth: over stdio "
            "nobody is authenticated, so no second person can be told apart (use --transport http)"
        )
    sock = None
    if args.transport != "stdio":  # the port is taken (or refused) before anything is announced
        check_network_settings(settings, args.host)
        sock = listen(args.host, args.port)
    _configure_logging(settings.telco_mcp_log_level, settings)
    from telco_mcp.ops.tracing import export_from_environment

    export_from_environment()  # OTEL_EXPORTER_OTLP_ENDPOINT with the `otel` extra: spans leave over OTLP
    server = build_server(settings)
    runtime = server.telco_runtime  # type: ignore[attr-defined]
    if runtime.sandbox is not None:
        why = sandbox_reason(args, settings)
        logger.warning(
            "SANDBOX MODE (%s): SignalWire and sipgate are simulated in-process; nothing real is touched.", why
        )
    if args.transport == "stdio" and settings.telco_mcp_metrics_token is not None:
        logger.warning(
            "TELCO_MCP_METRICS_TOKEN is set, but stdio serves no HTTP app: /metrics, /healthz and /readyz exist only "
            "with --transport http or sse"
        )
    if settings.telco_mcp_confirm == "off":
        logger.warning("TELCO_MCP_CONFIRM=off: writes run WITHOUT asking a human. Every write is still audited.")
    if settings.telco_mcp_approver_factor != "none":
        logger.info(
            "TELCO_MCP_APPROVER_FACTOR=%s: TELCO_MCP_CONFIRM=auto, elicit and token act as approval for every write "
            "(TELCO_MCP_CONFIRM=%s here, so writes are %s)",
            settings.telco_mcp_approver_factor,
            settings.telco_mcp_confirm,
            "approved with a " + settings.telco_mcp_approver_factor
            if settings.consent_mode == "approval"
            else "refused",
        )
    writes = sum(op.is_write for op in runtime.exposed)
    logger.info(
        "telco-mcp %s: %d tools (%d writes, confirmed by a human), audit log %s",
        __version__,
        len(runtime.exposed),
        writes,
        settings.audit_path,
    )
    last_error.clear(settings.state_dir)  # this start worked: an older failure is no longer why it fails
    runtime.approvals.clear_stale()  # sockets and launch files left by processes that are gone
    _clean_up_on_sigterm(runtime.approvals)
    serve(server, settings, args.transport, args.host, args.port, sock)
    # Served: the process ends now. The interpreter's teardown runs full garbage collections over every object
    # the server made (catalogue, models, apps), which was most of the time a stdio server took to exit once its
    # stdin closed, while a host waits for it. Frozen objects are skipped by those collections; everything is
    # still released, the exit handlers (logging, the state files) still run, and the audit log is on disk.
    import gc

    gc.freeze()
    return 0


def _clean_up_on_sigterm(approvals: Any) -> None:
    """SIGTERM (what a host sends a stdio server that does not exit, and service managers send) removes this
    process's files from the state directory, then ends the process as SIGTERM does; a clean exit removes
    them at `atexit`. Uvicorn takes SIGTERM over while it serves and raises it again once it has stopped."""
    import os
    import signal

    def terminate(signum: int, frame: Any) -> None:
        approvals.remove_files()
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)

    signal.signal(signal.SIGTERM, terminate)


def cmd_sandbox(args: argparse.Namespace) -> int:
    import uvicorn

    from telco_mcp.access import ForwardedHeaders, networks
    from telco_mcp.sandbox import Sandbox
    from telco_mcp.transports import bound_port, is_loopback, listen

    if not is_loopback(args.host):
        raise ConfigError("the sandbox only serves on a loopback address (127.0.0.1, ::1, localhost)")
    settings = load_settings()  # only TELCO_MCP_TRUSTED_PROXIES is read, but a misspelled name stops here too
    problems = [p for p in settings.problems() if "TRUSTED_PROXIES" in p]
    if problems:
        raise ConfigError("Invalid configuration:\n  - " + "\n  - ".join(problems))
    sock = listen(args.host, args.port)  # before any line that announces it
    _configure_logging("INFO", settings)
    sandbox = Sandbox()
    host = f"[{args.host.strip('[]')}]" if ":" in args.host else args.host
    base = f"http://{host}:{bound_port(sock)}"
    logger.info(
        "sandbox on %s  (SIGNALWIRE_BASE_URL=%s  SIPGATE_BASE_URL=%s/v2; admin under %s/_sandbox/)",
        base,
        base,
        base,
        base,
    )
    key_file = _write_push_key(bound_port(sock))
    logger.info(
        "its sipgate pushes are signed with this process's own key: a separately started `telco-mcp serve` "
        "checks them with TELCO_MCP_WEBHOOK_PUBLIC_KEY=%s (the same PEM: GET %s/_sandbox/sipgate/push-key)",
        key_file,
        base,
    )
    app = ForwardedHeaders(sandbox.app, networks(settings.trusted_proxies))
    config = uvicorn.Config(app, log_config=None, log_level="warning", proxy_headers=False)  # see transports.serve
    # uvicorn stops gracefully on SIGTERM, then raises it again: as SystemExit, so the key file goes too
    signal.signal(signal.SIGTERM, _exit_on_signal)
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        key_file.unlink(missing_ok=True)
    return 0


def _exit_on_signal(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def _write_push_key(port: int) -> Path:
    """The sandbox's public push key in `<state dir>/sandbox-<port>-push-key.pem` (removed at exit)."""
    from telco_mcp.sandbox.signing import public_pem

    path = Settings.model_construct().state_dir / f"sandbox-{port}-push-key.pem"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(public_pem())
    return path


def cmd_tools(args: argparse.Namespace) -> int:
    from telco_mcp.safety.scopes import decide

    settings = _settings(args).check()
    decisions = decide(settings)
    mode = "sandbox" if settings.use_sandbox else "live"
    print(f"telco-mcp {__version__} ({mode}); writes {'enabled' if settings.writes_enabled else 'disabled'}")
    print(f"toolsets: {', '.join(settings.toolsets)} (TELCO_MCP_TOOLSETS)")
    width = max(len(d.operation.name) for d in decisions)
    for toolset in dict.fromkeys(d.operation.toolset for d in decisions):
        members = [d for d in decisions if d.operation.toolset == toolset]
        print(f"{toolset}  ({sum(d.exposed for d in members)} of {len(members)} exposed)")
        for d in members:
            mark = "exposed" if d.exposed else "hidden "
            detail = d.operation.effect if d.exposed else d.reason
            print(f"  {mark}  {d.operation.name:<{width}}  {detail}")
    print(f"{sum(d.exposed for d in decisions)} of {len(decisions)} tools exposed")
    return 0


def cmd_manifest(args: argparse.Namespace) -> int:
    from telco_mcp import manifest

    root = Path(args.root).resolve()
    if args.check:
        problems = manifest.check(root)
        if problems:
            print("Out of date with the catalogue (run `telco-mcp manifest`):", file=sys.stderr)
            for problem in problems:
                print(f"  {problem}", file=sys.stderr)
            return 1
        print(
            "tool manifests, telco_mcp/schemas.json, docs/tools.md, the README's summary, server.json and "
            "bundle/manifest.json "
            "match the catalogue; docs/configuration.md and docs/clients.md match the settings and `telco-mcp config`"
        )
        return 0
    changed = manifest.write(root)
    print("\n".join(f"wrote {c}" for c in changed) or "nothing to change")
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    import anyio

    from telco_mcp.doctor import run_doctor

    # A recorded failure first: the settings that made it fail may still be wrong (and stop doctor next). With
    # none recorded, that is said only once the settings hold: a stopped command writes nothing to stdout.
    recorded = last_error.read(default_state_dir()) is not None
    if recorded:
        print(last_error.describe(default_state_dir()))
    settings = _settings(args).check()
    if not recorded:
        print(last_error.describe(default_state_dir()))
    _configure_logging("WARNING", settings)
    return anyio.run(run_doctor, settings, print)


def cmd_config(args: argparse.Namespace) -> int:
    from telco_mcp import client_config as cc

    url = (args.url or cc.DEFAULT_URL) if args.transport == "http" else None
    if args.url and args.transport != "http":
        raise ConfigError("--url needs --transport http (stdio starts the server itself)")
    if args.file and not args.write:
        raise ConfigError("--file names the file --write merges into: add --write")
    run = cc.launch(_settings(args).check())
    printed = cc.render(args.client, run, name=args.name, url=url)
    path = None
    if args.client in cc.FILE_CLIENTS:
        path = Path(args.file).expanduser() if args.file else cc.default_path(args.client)
    if not args.write:
        print(printed)
        for line in cc.notes(args.client, run, url=url, path=path):
            print(line, file=sys.stderr)
        return 0
    if path is None:
        raise ConfigError(f"{args.client} keeps its own configuration: run the printed command instead of --write")

    def ask(question: str) -> str:
        print(question, end="", file=sys.stderr, flush=True)
        return sys.stdin.readline()

    code = cc.write(path, cc.document(args.client, run, name=args.name, url=url), yes=args.yes, out=print, ask=ask)
    for line in cc.notes(args.client, run, url=url, path=None):
        print(line, file=sys.stderr)
    return code


def cmd_approvals(args: argparse.Namespace) -> int:
    from telco_mcp.approval.cli import run

    settings = load_settings()
    _configure_logging("WARNING", settings)
    token = settings.telco_mcp_approver_token
    return run(args, settings.state_dir, token.get_secret_value() if token is not None else None)


def cmd_approvers(args: argparse.Namespace) -> int:
    from telco_mcp.approval.enroll import run

    _configure_logging("WARNING")
    return run(args, load_settings())


# client_config.CLIENTS, spelled out: that module (difflib, tempfile, ...) loads only when `config` runs
CONFIG_CLIENTS = ("claude-desktop", "claude-code", "vscode", "cursor", "inspector")


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Every option's help ends with its default; an on/off flag's default reads "off"."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.nargs == 0 and action.const is True and action.default is False:
            return f"{action.help} (default: off)"
        return super()._get_help_string(action)


def build_parser() -> argparse.ArgumentParser:
    fmt = _HelpFormatter
    parser = argparse.ArgumentParser(prog="telco-mcp", description="MCP server for SignalWire and sipgate telephony.")
    parser.add_argument("--version", action="version", version=f"telco-mcp {__version__}")
    sub = parser.add_subparsers(dest="command")

    def exposure_flags(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--sandbox",
            action="store_true",
            help="serve both providers from the embedded sandbox, even when credentials are set "
            "(same as TELCO_MCP_SANDBOX=1)",
        )
        group = p.add_mutually_exclusive_group()
        group.add_argument(
            "--allow-writes",
            action="store_true",
            help="register write tools, each still confirmed by a human (same as TELCO_MCP_ALLOW_WRITES=1; "
            "without it writes are on only in the sandbox)",
        )
        group.add_argument(
            "--read-only",
            action="store_true",
            help="register read tools only, also in the sandbox (same as TELCO_MCP_ALLOW_WRITES=0)",
        )
        p.add_argument(
            "--i-accept-unconfirmed-writes",
            dest="accept_unconfirmed",
            action="store_true",
            help="required together with TELCO_MCP_CONFIRM=off (same as TELCO_MCP_CONFIRM_OFF_ACKNOWLEDGED=1)",
        )

    def port_option(p: argparse.ArgumentParser, default: int, what: str) -> None:
        p.add_argument("--port", type=int, default=default, help=f"TCP port {what}; 0 picks a free one")

    serve = sub.add_parser(
        "serve",
        help="run the MCP server (default)",
        description="Run the MCP server. Settings and secrets: the environment or .env (docs/configuration.md).",
        formatter_class=fmt,
    )
    serve.add_argument(
        "--transport",
        choices=["stdio", "http", "sse"],
        default="stdio",
        help="stdio for a client that spawns the server; http (streamable HTTP on /mcp) or sse (legacy, /sse)",
    )
    serve.add_argument(
        "--host",
        default="127.0.0.1",
        help="HTTP bind address; anything but loopback needs TELCO_MCP_HTTP_TOKEN and TELCO_MCP_ALLOWED_HOSTS",
    )
    port_option(serve, 8000, "for --transport http or sse")
    exposure_flags(serve)
    serve.set_defaults(func=cmd_serve)

    sandbox = sub.add_parser(
        "sandbox",
        help="serve the provider sandbox over HTTP on 127.0.0.1",
        description="Serve the simulated SignalWire and sipgate APIs over real HTTP, for SIGNALWIRE_BASE_URL and "
        "SIPGATE_BASE_URL of a server under test. The URLs to use are printed on start.",
        formatter_class=fmt,
    )
    sandbox.add_argument("--host", default="127.0.0.1", help="bind address (loopback only)")
    port_option(sandbox, 8080, "to serve the sandbox on")
    sandbox.set_defaults(func=cmd_sandbox)

    tools = sub.add_parser("tools", help="list exposed and hidden tools", formatter_class=fmt)
    exposure_flags(tools)
    tools.set_defaults(func=cmd_tools)

    manifest = sub.add_parser("manifest", help="write or check the generated tool manifests", formatter_class=fmt)
    manifest.add_argument("--check", action="store_true", help="fail if anything generated is out of date")
    manifest.add_argument("--root", default=".", help="repository root")
    manifest.set_defaults(func=cmd_manifest)

    doctor = sub.add_parser("doctor", help="check credentials and show what is exposed", formatter_class=fmt)
    exposure_flags(doctor)
    doctor.set_defaults(func=cmd_doctor)

    config = sub.add_parser(
        "config",
        help="print (or --write) a client's configuration for this install",
        description="Print the configuration CLIENT needs to start this install's server (the absolute path of its "
        "command; your settings, secrets as placeholders), or merge it into the client's file with --write.",
        formatter_class=fmt,
    )
    config.add_argument("client", choices=CONFIG_CLIENTS, help="the MCP client")
    config.add_argument(
        "--transport", choices=["stdio", "http"], default="stdio", help="http: reach a running server at --url"
    )
    config.add_argument("--url", help="the server's MCP endpoint for --transport http (default: make serve's)")
    config.add_argument("--name", default="telco", help="the server's name in the client")
    config.add_argument("--write", action="store_true", help="merge into the client's file (diff, question, backup)")
    config.add_argument("--file", help="the file --write merges into (default: the client's per-user file)")
    config.add_argument("--yes", action="store_true", help="write without asking (the diff is still shown)")
    config.set_defaults(func=cmd_config)

    from telco_mcp.approval.cli import add_parser

    add_parser(sub).set_defaults(func=cmd_approvals)
    from telco_mcp.approval.enroll import add_parser as add_approvers

    add_approvers(sub).set_defaults(func=cmd_approvers)
    return parser


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        args = parser.parse_args(["serve", *(argv if argv is not None else sys.argv[1:])])
    _configure_logging("WARNING")  # until a command knows its level: a settings warning is a log line on stderr
    typed = argv if argv is not None else sys.argv[1:]
    try:
        code = args.func(args)
    except (ConfigError, TelcoError) as exc:
        print(f"telco-mcp: {exc}", file=sys.stderr)
        _failed_start(args, typed, str(exc))
        code = 2
    except KeyboardInterrupt:
        code = 130
    except Exception as exc:
        _failed_start(args, typed, f"unexpected {type(exc).__name__}: the traceback is on the server's stderr")
        raise
    sys.exit(code)


def _failed_start(args: argparse.Namespace, argv: list[str], error: str) -> None:
    """A server that cannot start says why in `last-error` too: its client may hide stderr (last_error.py)."""
    if args.command == "serve":
        last_error.record(default_state_dir(), argv, error)
