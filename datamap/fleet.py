"""Fleet scans: find every pilot tenant and scan the accounts they live in, concurrently and read-only.

Tenants come from the stack files (``Pulumi.<customer>.yaml``) of a folder and from the
``pilot:customer`` tags found in each scanned account. Each account is read once for all
of its tenants (``datamap.sources.live.tenants``): a thread pool runs one task per
account to assume its role and identify it, then one task per service and region.

A failure never stops the other accounts. An account that cannot be reached, or whose
role cannot be assumed, is retried once. If it fails again, the tenants known to live
there come out as ``FAILED`` with the reason, and so do stack-file tenants found in no
account, so their findings are unknown. A service scan whose reads failed for a
transient reason (throttling, HTTP 5xx, connection errors) is retried once, after
botocore's own retries.

The only call that is not a read is ``sts:AssumeRole``, which changes nothing in the account.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from datamap.inventory import Inventory
from datamap.sources.live.calls import DEFAULT_MAX_ATTEMPTS
from datamap.sources.live.tenants import Identity, ServiceScan, identify, scan_service, service_regions, split_by_tenant
from infra.errors import InputError, PilotError, ScanError
from infra.spec import PilotSpec, load_stack_file

LOG = logging.getLogger(__name__)

COMPLETE, FAILED = "complete", "failed"
ACCOUNT_ID = re.compile(r"^\d{12}$")
SESSION_NAME = "pilotctl-fleet"
# Failure reasons worth one more try after botocore's retries: throttling, server errors, lost connections.
TRANSIENT = re.compile(r"Throttl|TooManyRequests|RequestLimitExceeded|SlowDown|HTTP 5\d\d|InternalError|"
                       r"ServiceUnavailable|EndpointConnectionError|ConnectTimeoutError|ReadTimeoutError|"
                       r"ConnectionClosedError")


@dataclass(frozen=True)
class Account:
    """An account to scan. ``account_id`` None is the base credentials' own account; ``role_arn`` None uses them."""

    account_id: str | None = None
    role_arn: str | None = None

    @property
    def label(self) -> str:
        return self.account_id or "the credentials' account"


@dataclass(frozen=True)
class Stacks:
    """The tenants of the stack files: customer -> spec, and customer -> reason for invalid files."""

    specs: Mapping[str, PilotSpec] = field(default_factory=dict)
    invalid: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class TenantScan:
    """One tenant's outcome in a fleet scan; ``inventory`` is None when the tenant could not be scanned."""

    customer: str
    account_id: str   # "" when the tenant was found in no account
    region: str
    status: str       # COMPLETE or FAILED
    reason: str       # why it failed; "" when complete
    inventory: Inventory | None
    spec: PilotSpec | None
    started_at: str   # ISO 8601 UTC; when the scan of its account began
    finished_at: str


@dataclass(frozen=True)
class FleetOptions:
    """How to reach the accounts and how hard to try."""

    endpoint_url: str | None = None  # None: boto3's usual endpoint resolution, AWS_ENDPOINT_URL included
    region: str | None = None        # where tenants without a stack file are read; default the session's
    workers: int = 4                 # concurrent tasks
    max_attempts: int = DEFAULT_MAX_ATTEMPTS  # botocore attempts per call
    retry_delay: float = 2.0         # seconds before the one retry of a failed account or service scan
    # Called with each new boto3 session and the id of the account it reads ("" for the base
    # credentials' own account), for example to register botocore event handlers. The base
    # session, which assumes the roles, is the caller's and is not passed.
    prepare_session: Callable[[boto3.Session, str], None] | None = None


def accounts_from(ids: Iterable[str], role_template: str | None) -> list[Account]:
    """Return the accounts to scan; ``role_template`` contains ``{account}``, such as ``arn:aws:iam::{account}:role/r``.

    Raises InputError for an id that is not 12 digits or a template without ``{account}``.
    """
    if role_template is not None and "{account}" not in role_template:
        raise InputError(f"--role-arn: invalid value {role_template!r}; expected a template with {{account}}, "
                         "such as arn:aws:iam::{account}:role/pilotctl-reader")
    accounts = []
    for account_id in ids:
        if not ACCOUNT_ID.match(account_id):
            raise InputError(f"account id {account_id!r} is invalid; expected 12 digits")
        role = role_template.replace("{account}", account_id) if role_template else None
        accounts.append(Account(account_id, role))
    return accounts


def read_accounts_file(path: Path) -> list[str]:
    """Read account ids, one per line; blank lines and text after ``#`` are ignored."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise InputError(f"{path}: cannot read the accounts file ({exc.strerror})") from None
    ids = []
    for number, line in enumerate(lines, start=1):
        value = line.split("#", 1)[0].strip()
        if value and not ACCOUNT_ID.match(value):
            raise InputError(f"{path}: line {number}: invalid account id {value!r}; expected 12 digits")
        if value:
            ids.append(value)
    return ids


def discover_stacks(stack_dir: Path) -> Stacks:
    """Load every ``Pulumi.<customer>.yaml`` in ``stack_dir``; an invalid file is kept with its reason."""
    specs: dict[str, PilotSpec] = {}
    invalid: dict[str, str] = {}
    for path in sorted(Path(stack_dir).glob("Pulumi.*.yaml")):
        customer = path.name.removeprefix("Pulumi.").removesuffix(".yaml")
        try:
            spec = load_stack_file(path)
        except InputError as exc:
            invalid[customer] = f"invalid stack file: {exc}"
            continue
        if spec.customer != customer:
            invalid[customer] = (f"invalid stack file: {path.name}: pilot:customer: invalid value "
                                 f"{spec.customer!r}; expected {customer!r}, the customer in the file name")
            continue
        specs[customer] = spec
    LOG.info("stack files in %s: %d tenants, %d invalid", stack_dir, len(specs), len(invalid))
    return Stacks(specs, invalid)


@dataclass
class _AccountState:
    account: Account
    started_at: str
    identity: Identity | None = None
    credentials: tuple[str, str, str | None] | None = None
    scans: list[ServiceScan] = field(default_factory=list)
    waiting: int = 0
    failure: str = ""


class FleetScan:
    """One scan of every tenant in ``accounts``; ``run()`` yields each tenant's outcome as it is ready.

    After ``run()`` finishes, ``failed_accounts`` maps each account that could not be
    scanned to the reason, and ``calls`` counts the API calls of the service scans.
    ``known_accounts`` (customer -> account id, for example from the scan history) names
    tenants to report as failed when their account cannot be scanned.
    """

    def __init__(self, accounts: Sequence[Account], stacks: Stacks = Stacks(), session: boto3.Session | None = None,
                 options: FleetOptions = FleetOptions(), known_accounts: Mapping[str, str] | None = None,
                 progress: Callable[[int, int, str], None] | None = None):
        if options.workers < 1:
            raise InputError(f"--workers: invalid value {options.workers}; expected 1 or more")
        self.accounts = list(accounts) or [Account()]
        self.stacks = stacks
        self.options = options
        self.known_accounts = dict(known_accounts or {})
        self.progress = progress
        self.failed_accounts: dict[str, str] = {}
        self.calls = 0
        self._session = session or boto3.Session()
        self.region = options.region or self._session.region_name
        if not self.region:
            raise ScanError("no AWS region set: pass --region or set AWS_REGION or AWS_DEFAULT_REGION")
        self._tenant_regions = {customer: spec.region for customer, spec in stacks.specs.items()}
        self._units = service_regions(self.region, self._tenant_regions)
        self._started_at = ""
        self._sts = None
        self._scanned: list[str] = []
        self._local = threading.local()

    def run(self) -> Iterator[TenantScan]:
        """Scan every account and yield each tenant's TenantScan, failed ones included.

        Tenants of an account come out when all of its scans are done; failed tenants come last.
        """
        self._started_at = _now()
        if any(account.role_arn for account in self.accounts):
            self._sts = self._client("sts", self._session)
        LOG.info("fleet scan: %d accounts, %d stack tenants, %d service scans per account, %d workers",
                 len(self.accounts), len(self.stacks.specs), len(self._units), self.options.workers)
        total = len(self.accounts) * (1 + len(self._units))
        done = 0
        reported: set[str] = set()
        pool = ThreadPoolExecutor(max_workers=self.options.workers, thread_name_prefix="fleet")
        try:
            pending: dict[Future, tuple[_AccountState, tuple[str, str] | None]] = {}
            for account in self.accounts:
                state = _AccountState(account, _now())
                pending[pool.submit(self._resolve, state)] = (state, None)
            while pending:
                finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    state, unit = pending.pop(future)
                    succeeded = self._settle(state, unit, future)
                    done += 1
                    if unit is None and succeeded:
                        for service, region in self._units:
                            pending[pool.submit(self._scan_unit, state, service, region)] = (state, (service, region))
                        state.waiting = len(self._units)
                    elif unit is None:
                        done += len(self._units)  # the account's service scans will not run
                    self._report(done, total, state, unit)
                    if state.waiting == 0:
                        state.waiting = -1  # every task of the account has finished
                        if state.failure:
                            self._fail_account(state)
                        else:
                            yield from self._tenants(state, reported)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        yield from self._missing(reported)

    def _settle(self, state: _AccountState, unit: tuple[str, str] | None, future: Future) -> bool:
        """Record a finished task in its account's state; return whether it succeeded."""
        if unit is not None:
            state.waiting -= 1
        try:
            result = future.result()
        except PilotError as exc:
            state.failure = state.failure or str(exc)
            return False
        except Exception as exc:  # a bug in one account's scan must not stop the others
            LOG.exception("scan of account %s failed", state.account.label)
            state.failure = state.failure or f"{type(exc).__name__}: {exc}"
            return False
        if unit is not None:
            state.scans.append(result)
            self.calls += result.calls
        return True

    def _report(self, done: int, total: int, state: _AccountState, unit: tuple[str, str] | None) -> None:
        if self.progress is None:
            return
        account = state.identity.account_id if state.identity else state.account.label
        if state.failure:
            step = f"account {account} failed"
        elif unit is None:
            step = f"account {account} reached"
        else:
            step = f"account {account}: {unit[0]} in {unit[1]} read"
        self.progress(done, total, step)

    def _resolve(self, state: _AccountState) -> None:
        """Assume the account's role if it has one and identify the account, retrying once."""
        try:
            self._resolve_once(state)
        except ScanError as exc:
            LOG.warning("account %s: %s; retrying in %g s", state.account.label, exc, self.options.retry_delay)
            time.sleep(self.options.retry_delay)
            self._resolve_once(state)

    def _resolve_once(self, state: _AccountState) -> None:
        account = state.account
        if account.role_arn:
            try:
                reply = self._sts.assume_role(RoleArn=account.role_arn, RoleSessionName=SESSION_NAME)["Credentials"]
            except ClientError as exc:
                error = exc.response.get("Error", {})
                raise ScanError(f"cannot assume role {account.role_arn}: {error.get('Code', 'error')}: "
                                f"{error.get('Message', '')}".rstrip(": ")) from None
            except BotoCoreError as exc:
                raise ScanError(f"cannot assume role {account.role_arn}: {type(exc).__name__}: {exc}") from None
            state.credentials = (reply["AccessKeyId"], reply["SecretAccessKey"], reply["SessionToken"])
        else:
            found = self._session.get_credentials()
            if found is None:
                raise ScanError("no AWS credentials found; configure them as for the AWS CLI")
            frozen = found.get_frozen_credentials()
            state.credentials = (frozen.access_key, frozen.secret_key, frozen.token)
        session = self._new_session(state, account.account_id or "")
        identity = identify(session, self.region, self.options.endpoint_url, max_attempts=self.options.max_attempts)
        if account.account_id and identity.account_id != account.account_id:
            raise ScanError(f"the credentials for account {account.account_id} reach account "
                            f"{identity.account_id}; check --role-arn")
        state.identity = identity

    def _scan_unit(self, state: _AccountState, service: str, region: str) -> ServiceScan:
        """Scan one service in one region of the account, once more when a read failed for a transient reason."""
        options = self.options
        scan = scan_service(self._new_session(state, state.identity.account_id), service, state.identity, region,
                            options.endpoint_url, max_attempts=options.max_attempts)
        transient = [error for error in _errors(scan) if TRANSIENT.search(error)]
        if not transient:
            return scan
        LOG.warning("account %s: %s in %s had %d transient failures (first: %s); retrying in %g s",
                    state.identity.account_id, service, region, len(transient), transient[0], options.retry_delay)
        time.sleep(options.retry_delay)
        retry = scan_service(self._new_session(state, state.identity.account_id), service, state.identity, region,
                             options.endpoint_url, max_attempts=options.max_attempts)
        return ServiceScan(retry.service, retry.region, retry.collected, scan.calls + retry.calls)

    def _new_session(self, state: _AccountState, account_id: str) -> boto3.Session:
        """Return this thread's session with the account's credentials; sessions are not thread-safe.

        A session is kept per thread and account, because creating one loads the service models again.
        """
        sessions = self._local.__dict__.setdefault("sessions", {})
        if state.credentials not in sessions:
            key, secret, token = state.credentials
            session = boto3.Session(aws_access_key_id=key, aws_secret_access_key=secret, aws_session_token=token,
                                    region_name=self.region)
            if self.options.prepare_session is not None:
                self.options.prepare_session(session, account_id)
            sessions[state.credentials] = session
        return sessions[state.credentials]

    def _client(self, service: str, session: boto3.Session):
        config = Config(retries={"mode": "standard", "total_max_attempts": self.options.max_attempts})
        return session.client(service, region_name=self.region, endpoint_url=self.options.endpoint_url,
                              config=config)

    def _tenants(self, state: _AccountState, reported: set[str]) -> Iterator[TenantScan]:
        """Split the account's scans by tenant and yield the tenants that have resources there."""
        identity = state.identity
        self._scanned.append(identity.account_id)
        inventories = split_by_tenant(identity, state.scans, self.region, self._tenant_regions)
        finished = _now()
        for customer, inventory in inventories.items():
            if not inventory.resources:
                continue
            reported.add(customer)
            invalid = self.stacks.invalid.get(customer)
            yield TenantScan(customer=customer, account_id=identity.account_id, region=inventory.region,
                             status=FAILED if invalid else COMPLETE, reason=invalid or "",
                             inventory=None if invalid else inventory, spec=self.stacks.specs.get(customer),
                             started_at=state.started_at, finished_at=finished)

    def _fail_account(self, state: _AccountState) -> None:
        account_id = state.identity.account_id if state.identity else (state.account.account_id or "")
        self.failed_accounts[account_id or state.account.label] = state.failure
        LOG.warning("account %s could not be scanned, so its tenants are unknown: %s",
                    account_id or state.account.label, state.failure)

    def _missing(self, reported: set[str]) -> Iterator[TenantScan]:
        """Yield as failed the stack-file tenants that no account reported, and the known tenants of failed accounts."""
        scanned = ", ".join(self._scanned) or "none"
        failed = "; ".join(f"{account}: {why}" for account, why in sorted(self.failed_accounts.items()))
        for customer in sorted(set(self.stacks.specs) | set(self.stacks.invalid)):
            if customer in reported:
                continue
            reason = self.stacks.invalid.get(customer)
            if reason is None:
                reason = f"no resource tagged pilot:customer={customer} found in the scanned accounts ({scanned})"
                if failed:
                    reason += f", and these accounts could not be scanned, so it may live there: {failed}"
            reported.add(customer)
            yield self._failed(customer, self.known_accounts.get(customer, ""), reason)
        for customer, account_id in sorted(self.known_accounts.items()):
            if customer not in reported and account_id in self.failed_accounts:
                reported.add(customer)
                yield self._failed(customer, account_id, f"account {account_id} could not be scanned: "
                                                         f"{self.failed_accounts[account_id]}")

    def _failed(self, customer: str, account_id: str, reason: str) -> TenantScan:
        spec = self.stacks.specs.get(customer)
        return TenantScan(customer=customer, account_id=account_id, region=spec.region if spec else self.region,
                          status=FAILED, reason=reason, inventory=None, spec=spec, started_at=self._started_at,
                          finished_at=_now())


def _errors(scan: ServiceScan) -> list[str]:
    errors = list(scan.collected.errors)
    errors += [error for resource in scan.collected.resources for error in resource.errors.values()]
    return errors


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
