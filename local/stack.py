"""The local stack: DynamoDB Local, moto, resources from template.yaml, the gateway and the stream poller.

    python -m local run [--port 3000] [--in-memory] [--state-dir DIR] [--faults PLAN] [--seed-demo]

Everything binds 127.0.0.1. Ctrl-C (or SIGTERM, SIGHUP) stops every child process; whatever
kills the stack, its children die with it (local.processes). One stack per state folder
(local.state_lock). While it runs, ``<state dir>/stack.json`` tells other commands (seed,
reconcile, invoke, tests) where it is. The console shows the functions' logs readably
(local.console); ``--log-file`` keeps every line as it was printed.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import requests
from botocore.config import Config
from botocore.exceptions import BotoCoreError

from local import dynamodb_local, seed
from local.console import readable
from local.edge import ClientLimiter
from local.gateway import CorsPolicy, Gateway, GatewayServer
from local.processes import spawn, wait_or_kill
from local.provision import LOCAL_PARAMETERS, Clients, function_environment, intrinsics_for, provision
from local.runtime import FunctionDefinition, FunctionPool, Preloader
from local.schedules import CLOCK_FILE_VARIABLE, LocalClock, LocalControl, Scheduler
from local.state_lock import StateLock
from local.streams import StreamPoller
from local.template import ROOT, SamTemplate, schedules

REGION = "ap-south-1"
STACK_NAME = "vaultpay-local"
DEFAULT_STATE_DIR = ROOT / ".local"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}
INHERITED_VARIABLES = ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "SYSTEMROOT", "TMPDIR")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for_port(port: int, process: subprocess.Popen[Any], name: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with status {process.returncode} while starting")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"{name} did not open port {port} within {timeout} s")


@dataclass
class ServiceEndpoints:
    dynamodb: str
    moto: str

    def client_environment(self) -> dict[str, str]:
        """What a process needs to reach the local services with unmodified boto3 code."""
        return {
            **CREDENTIALS,
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ENDPOINT_URL": self.moto,
            "AWS_ENDPOINT_URL_DYNAMODB": self.dynamodb,
            "AWS_ENDPOINT_URL_DYNAMODB_STREAMS": self.dynamodb,
        }

    def client(self, service: str) -> Any:
        endpoint = self.dynamodb if service in ("dynamodb", "dynamodbstreams") else self.moto
        return boto3.client(  # type: ignore[call-overload]
            service,
            endpoint_url=endpoint,
            region_name=REGION,
            aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            config=Config(retries={"mode": "standard", "max_attempts": 5}, max_pool_connections=64),
        )


def lambda_runtime_environment(logical_id: str, memory_size: int, code_dir: Path) -> dict[str, str]:
    """The variables the Lambda runtime itself sets, as far as handlers and Powertools read them."""
    return {
        "AWS_LAMBDA_FUNCTION_NAME": f"{STACK_NAME}-{logical_id}",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory_size),
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
        "LAMBDA_TASK_ROOT": str(code_dir),
        "PYTHONUNBUFFERED": "1",
        # No X-Ray daemon locally; metrics still go to stdout as EMF, as in Lambda.
        "POWERTOOLS_TRACE_DISABLED": "true",
    }


@dataclass
class LocalStack:
    state_dir: Path = DEFAULT_STATE_DIR
    port: int = 3000
    in_memory: bool = False
    fault_plan: Path | None = None
    max_concurrency: int = 16
    log_file: Path | None = None
    quiet: bool = False
    verbose: bool = False  # the console also shows metrics (summarized) and INIT_REPORT lines
    seed_demo: bool = False
    client_limits: bool = True
    trusted_addresses: tuple[str, ...] = ()
    template: SamTemplate = field(default_factory=SamTemplate.load)

    def __post_init__(self) -> None:
        self._children: list[subprocess.Popen[Any]] = []
        self._pools: dict[str, FunctionPool] = {}
        self.preloader: Preloader | None = None
        self._log_lock = threading.Lock()
        self._log_handle: Any = None
        self._state_lock = StateLock(self.state_dir)
        self._stopping = threading.Event()
        self.server: GatewayServer | None = None
        self.poller: StreamPoller | None = None
        self.endpoints: ServiceEndpoints | None = None
        self.function_environments: dict[str, dict[str, str]] = {}
        self.physical: dict[str, str] = {}
        self.clock = LocalClock(self.state_dir / "clock-offset")
        self.scheduler: Scheduler | None = None

    # ------------------------------------------------------------ console
    def log(self, source: str, line: str, *, last_shown: bool = False) -> None:
        """``last_shown``: the console's last line; it stays quiet after it (the log file still
        gets it all). Decided under the lock, so that no line of a request answered just before
        can slip in after it."""
        shown = None if self.quiet else readable(line, verbose=self.verbose)
        with self._log_lock:
            if shown is not None and not self._stopping.is_set():
                print("\n".join(f"[{source}] {part}" for part in shown.splitlines() or [""]), flush=True)
            if last_shown:
                self._stopping.set()
            if self._log_handle:
                self._log_handle.write(f"[{source}] {line}\n")
                self._log_handle.flush()

    # ------------------------------------------------------------ services
    def _start_services(self) -> ServiceEndpoints:
        jar = dynamodb_local.fetch()
        data_dir = self.state_dir / "dynamodb"
        data_dir.mkdir(parents=True, exist_ok=True)
        ddb_port, moto_port = free_port(), free_port()
        service_log = (self.state_dir / "services.log").open("a", encoding="utf-8")
        ddb = spawn(
            dynamodb_local.command(ddb_port, db_path=None if self.in_memory else data_dir, jar=jar),
            cwd=self.state_dir,
            stdout=service_log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._children.append(ddb)
        self._state_lock.record_child(ddb.pid)
        moto_command = [sys.executable, "-m", "local.moto_server", "--port", str(moto_port), "--region", REGION]
        if not self.in_memory:
            moto_command += ["--state-file", str(self.state_dir / "state" / "kms.json")]
        moto = spawn(
            moto_command,
            cwd=ROOT,
            stdout=service_log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        service_log.close()
        self._children.append(moto)
        self._state_lock.record_child(moto.pid)
        wait_for_port(ddb_port, ddb, "DynamoDB Local")
        wait_for_port(moto_port, moto, "moto")
        self.log(
            "stack",
            f"DynamoDB Local on 127.0.0.1:{ddb_port} ({'in memory' if self.in_memory else data_dir}), moto on :{moto_port}",
        )
        return ServiceEndpoints(dynamodb=f"http://127.0.0.1:{ddb_port}", moto=f"http://127.0.0.1:{moto_port}")

    def _function_definitions(self, endpoints: ServiceEndpoints) -> dict[str, FunctionDefinition]:
        clients = Clients(*(endpoints.client(service) for service in ("dynamodb", "kms", "secretsmanager", "sqs")))
        provisioned = provision(
            self.template,
            clients,
            stack_name=STACK_NAME,
            region=REGION,
            parameter_overrides=LOCAL_PARAMETERS,
            secrets_file=None if self.in_memory else self.state_dir / "state" / "secrets.json",
        )
        self.physical = dict(provisioned.refs)
        self.physical.update({f"{logical}.{attribute}": value for (logical, attribute), value in provisioned.attributes.items()})
        intrinsics = intrinsics_for(
            self.template, provisioned, stack_name=STACK_NAME, region=REGION, parameter_overrides=LOCAL_PARAMETERS
        )
        layers = tuple(self.template.layer_paths())
        definitions = {}
        for logical_id, spec in self.template.functions().items():
            environment = {
                **{name: os.environ[name] for name in INHERITED_VARIABLES if name in os.environ},
                **endpoints.client_environment(),
                **lambda_runtime_environment(logical_id, spec.memory_size, spec.code_uri),
                **function_environment(self.template, logical_id, intrinsics),
            }
            if self.fault_plan is not None:
                environment["VAULTPAY_FAULT_PLAN"] = str(self.fault_plan)
            environment[CLOCK_FILE_VARIABLE] = str(self.clock.path)
            self.function_environments[logical_id] = environment
            definitions[logical_id] = FunctionDefinition(
                name=logical_id,
                code_dir=spec.code_uri,
                handler=spec.handler,
                layer_dirs=layers,
                environment=environment,
                timeout_seconds=spec.timeout,
            )
        return definitions

    def _cors_policy(self, intrinsics_parameters: Mapping[str, str]) -> CorsPolicy | None:
        apis = self.template.of_type("AWS::Serverless::HttpApi")
        cors = next(iter(apis.values())).get("CorsConfiguration")
        if not cors:
            return None
        origins = tuple(
            str(intrinsics_parameters.get(origin["Ref"], "")) if isinstance(origin, Mapping) else str(origin)
            for origin in cors.get("AllowOrigins", [])
        )
        return CorsPolicy(
            allow_origins=origins,
            allow_methods=tuple(cors.get("AllowMethods", [])),
            allow_headers=tuple(cors.get("AllowHeaders", [])),
            expose_headers=tuple(cors.get("ExposeHeaders", [])),
            max_age=int(cors.get("MaxAge", 0)),
        )

    # ------------------------------------------------------------ lifecycle
    def start(self) -> None:
        """Raises StateFolderInUse, having touched nothing, when another stack holds the folder."""
        stopped = self._state_lock.acquire()
        # A stack that was killed left its stack.json: no command may take it for this one.
        self.stack_file.unlink(missing_ok=True)
        self._log_handle = self.log_file.open("a", encoding="utf-8") if self.log_file else None
        if stopped:
            self.log("stack", f"stopped what a stack killed earlier left running in {self.state_dir}: pids {stopped}")
        self.endpoints = self._start_services()
        definitions = self._function_definitions(self.endpoints)
        self.preloader = Preloader(
            (definition.environment for definition in definitions.values()), self.log, on_start=self._state_lock.record_child
        )
        for logical_id, definition in definitions.items():
            self._pools[logical_id] = FunctionPool(
                definition, self.log, self.max_concurrency, on_start=self._state_lock.record_child, preloader=self.preloader
            )
        api_auth = next(iter(self.template.of_type("AWS::Serverless::HttpApi").values())).get("Auth", {})
        authorizer_name = api_auth.get("DefaultAuthorizer")
        cache_seconds = int(
            api_auth.get("Authorizers", {}).get(authorizer_name, {}).get("Identity", {}).get("ReauthorizeEvery", 0)
        )
        self.scheduler = Scheduler(schedules(self.template), self._pools, self.clock, self.log)
        gateway = Gateway(
            routes=self.template.routes(),
            pools=self._pools,
            identity_headers=self.template.authorizer_identity_headers(),
            authorizer_cache_seconds=cache_seconds,
            cors=self._cors_policy(self.template.parameters(LOCAL_PARAMETERS)),
            web_root=ROOT / "web",
            region=REGION,
            log_sink=self.log,
            client_limits=ClientLimiter.from_template(self.trusted_addresses) if self.client_limits else None,
            local_control=LocalControl(self.clock, self.scheduler),
        )
        self.server = GatewayServer("127.0.0.1", self.port, gateway)
        self.port = int(self.server.server_address[1])
        threading.Thread(target=self.server.serve_forever, name="gateway", daemon=True).start()
        for pool in self._pools.values():
            pool.warm()
        self._start_stream_pollers()
        self.scheduler.start()
        self._write_stack_file()
        self._state_lock.announce(url=self.url)
        self.log("stack", f"VaultPay is running at {self.url}")
        if self.seed_demo:
            threading.Thread(target=self._seed_if_empty, name="seed", daemon=True).start()

    def _seed_if_empty(self) -> None:
        try:
            self._seed()
        except (requests.RequestException, BotoCoreError):
            if not self._stopping.is_set():
                raise  # the stack is up: a real failure

    def _seed(self) -> None:
        assert self.endpoints is not None
        main_table = self.physical["MainTable"]
        if self.endpoints.client("dynamodb").scan(TableName=main_table, Limit=1, Select="COUNT")["Count"]:
            self.log("seed", f"data found; demo login: {seed.DEMO_EMAIL} / {seed.DEMO_PASSWORD}")
            return
        self.log("seed", "empty database: adding 20 people, 100 transfers and loans in every state (make seed)")
        report = seed.run(self.url)
        self.log("seed", report.summary())
        for failure in report.failures:
            self.log("seed", f"failed: {failure}")
        self.log("seed", f"demo login: {seed.DEMO_EMAIL} / {seed.DEMO_PASSWORD}  ->  {self.url}")

    def _start_stream_pollers(self) -> None:
        assert self.endpoints is not None
        for subscription in self.template.stream_subscriptions():
            queue_url = self.physical.get(subscription.on_failure_destination or "")
            self.poller = StreamPoller(
                streams_client=self.endpoints.client("dynamodbstreams"),
                sqs_client=self.endpoints.client("sqs"),
                stream_arn=self.physical[f"{subscription.table}.StreamArn"],
                subscription=subscription,
                pool=self._pools[subscription.function],
                on_failure_queue_url=queue_url,
                region=REGION,
                log_sink=self.log,
                checkpoint_file=None if self.in_memory else self.state_dir / "state" / "stream-checkpoints.json",
            )
            self.poller.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def stack_file(self) -> Path:
        return self.state_dir / "stack.json"

    def _write_stack_file(self) -> None:
        assert self.endpoints is not None
        # Written aside, then renamed: whoever waits for the file never reads it half-written.
        partial = self.stack_file.with_suffix(".json.partial")
        partial.write_text(
            json.dumps(
                {
                    "url": self.url,
                    "pid": os.getpid(),
                    "region": REGION,
                    "stack_name": STACK_NAME,
                    "endpoints": {"dynamodb": self.endpoints.dynamodb, "moto": self.endpoints.moto},
                    "resources": self.physical,
                    "functions": self.function_environments,
                },
                indent=1,
            )
        )
        partial.replace(self.stack_file)

    def stop(self) -> None:
        self._stopping.set()
        if not self._state_lock.held:
            return  # it never started: another stack holds the folder, and all in it
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
        if self.poller is not None:
            self.poller.stop()
        if self.scheduler is not None:
            self.scheduler.stop()
        for pool in self._pools.values():
            pool.close()
        if self.preloader is not None:
            self.preloader.close()
        for child in reversed(self._children):
            if child.poll() is None:
                child.terminate()
        for child in self._children:
            wait_or_kill(child, 10)
        self.stack_file.unlink(missing_ok=True)
        self._state_lock.release()
        with self._log_lock:
            if self._log_handle:
                self._log_handle.close()
                self._log_handle = None

    def run_forever(self) -> None:
        reasons: list[str] = []

        def on_signal(number: int, _frame: object) -> None:
            reasons.append("Ctrl-C" if number == signal.SIGINT else signal.Signals(number).name)
            stopped.set()

        stopped = threading.Event()
        for number in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(number, on_signal)
        try:
            self.start()
            stopped.wait()
        finally:
            if self._state_lock.held:
                self.log("stack", f"stopping everything ({reasons[0] if reasons else 'failed to start'})", last_shown=True)
            self.stop()
