"""A Sluice worker in Python: the wire protocol of docs/wire-protocol.md, with the official NATS client.

It pulls from the same durable consumers as the TypeScript workers (ready jobs, and scheduled jobs until they
are due), so both take jobs from one queue, and it
records job states and dead letters the way they do, so `GET /v1/jobs/<id>` and the dead-letter API show its
jobs like any others, and calls a job's callback URL with its final state as they do. Configuration comes from
the same environment variables as the Sluice apps.
"""

import asyncio
import base64
import hashlib
import hmac
import json
import os
import re
import secrets
import sys
import time
import urllib.error
import urllib.request
from datetime import datetime, timezone
from typing import Any, Awaitable, Callable, Dict, List, Optional
from urllib.parse import urlsplit

import nats
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError

JOB_ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
# Dead-letter errors are cut to this many UTF-8 bytes (DEAD_LETTER_ERROR_MAX_BYTES).
ERROR_MAX_BYTES = 1024
# Lifetime of one pull request, in s: a pull lost with a server restart is replaced within about this long,
# and a due scheduled job waits about this long at most for the slot an idle ready pull holds.
PULL_EXPIRES_S = 1.0
# A scheduled job delivered again up to this long before its time is held and run (clocks differ a little, and a
# restarted nats-server keeps the timer to the second); never past half ack_wait.
EARLY_HOLD_S = 1.0
# Job callbacks: the longest URL, what may follow an allowed prefix (characters a URL parser keeps as they
# are), and how long callbacks still held at shutdown get.
CALLBACK_URL_MAX_LENGTH = 2048
CALLBACK_URL_TAIL = re.compile(r"^[A-Za-z0-9._~!$&()*+,;=:@/?%#-]*$")
CALLBACK_DOT_SEGMENT = re.compile(r"(^|/)(\.|%2e){1,2}(/|\?|#|$)", re.IGNORECASE)
CALLBACK_CLOSE_S = 5.0


class PermanentJobError(Exception):
    """Raised by a handler for a job no retry can mend: the job is dead-lettered at once."""


Handler = Callable[[Any, Dict[str, Any]], Awaitable[Any]]


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def job_id_from_subject(subject: str, prefix: str) -> str:
    """The job id a subject carries; a rest that is not a valid id maps as packages/core/src/job-message.ts does."""
    rest = subject[len(prefix) + 1 :]
    if JOB_ID_PATTERN.match(rest):
        return rest
    readable = "".join(c if re.match(r"[A-Za-z0-9_-]", c) else "_" for c in rest[:200])[:100]
    digest = base64.urlsafe_b64encode(hashlib.sha256(rest.encode()).digest()).decode().rstrip("=")[:22]
    return f"{readable}-{digest}"


def error_text(error: BaseException) -> str:
    text = re.sub(r"[\r\n]+", " ", str(error) or type(error).__name__)
    data = text.encode()
    if len(data) <= ERROR_MAX_BYTES:
        return text
    return data[:ERROR_MAX_BYTES].decode(errors="ignore")


PHASE = {"scheduled": 0, "queued": 0, "running": 1, "failed": 2, "succeeded": 2, "dead": 2, "cancelled": 2}


def supersedes(new: Dict[str, Any], current: Dict[str, Any]) -> bool:
    """Whether `new` may replace the recorded state `current` (packages/core/src/job-state-order.ts)."""
    if new["queuedAt"] != current.get("queuedAt"):
        return new["queuedAt"] > current.get("queuedAt", "")
    if current.get("state") in ("succeeded", "dead", "cancelled"):
        return False
    if new["state"] == "cancelled":
        return True
    if new["attempts"] != current.get("attempts"):
        return new["attempts"] > current.get("attempts", 0)
    if new["state"] == "running" and current.get("state") == "running":
        return new["updatedAt"] > current.get("updatedAt", "")
    return PHASE[new["state"]] > PHASE.get(current.get("state", "queued"), 0)


class Settings:
    """The Sluice settings this worker reads, with the apps' defaults."""

    def __init__(self, env: Dict[str, str]) -> None:
        def get(name: str, default: str) -> str:
            return env.get(name) or default

        self.nats_url = get("NATS_URL", "nats://127.0.0.1:4222").split(",")
        self.stream = get("QUEUE_STREAM", "JOBS")
        self.consumer = get("QUEUE_CONSUMER", "workers")
        self.subject_prefix = get("QUEUE_SUBJECT_PREFIX", "jobs")
        self.dlq_subject_prefix = get("QUEUE_DLQ_SUBJECT_PREFIX", "jobs_dlq")
        self.status_bucket = get("JOB_STATUS_BUCKET", "JOB_STATUS")
        self.max_deliver = int(get("QUEUE_MAX_DELIVER", "5"))
        self.backoff_ms = [int(v) for v in get("QUEUE_RETRY_BACKOFF_MS", "1000,5000,15000,30000").split(",")]
        self.ack_wait_s = int(get("QUEUE_ACK_WAIT_MS", "30000")) / 1000
        self.concurrency = int(get("WORKER_CONCURRENCY", "4"))
        self.result_max_bytes = int(get("JOB_RESULT_MAX_BYTES", "16384"))
        allowed = get("JOB_CALLBACK_ALLOWED_URLS", "")
        self.callback_prefixes = [callback_prefix(url) for url in allowed.split(",")] if allowed else []
        self.callback_secret = env.get("JOB_CALLBACK_SIGNING_SECRET") or None
        self.callback_timeout_s = int(get("JOB_CALLBACK_TIMEOUT_MS", "10000")) / 1000
        self.callback_attempts = int(get("JOB_CALLBACK_ATTEMPTS", "5"))
        self.callback_backoff_ms = [int(v) for v in get("JOB_CALLBACK_RETRY_BACKOFF_MS", "1000,5000,30000,60000").split(",")]
        self.callback_concurrency = int(get("JOB_CALLBACK_CONCURRENCY", "16"))
        self.callback_max_pending = int(get("JOB_CALLBACK_MAX_PENDING", "1000"))

    def retry_delay_s(self, attempt: int) -> float:
        return self.backoff_ms[min(attempt, len(self.backoff_ms)) - 1] / 1000


def callback_prefix(url: str) -> str:
    """An allowed prefix as a URL parser writes it: scheme and host in lower case, `/` for an empty path."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or "@" in parts.netloc or parts.query or parts.fragment:
        raise ValueError(f"JOB_CALLBACK_ALLOWED_URLS: {url!r} is not an http(s) URL prefix without credentials, query or fragment")
    return f"{parts.scheme}://{parts.netloc.lower()}{parts.path or '/'}"


def callback_allowed(url: str, prefixes: List[str]) -> bool:
    """JOB_CALLBACK_ALLOWED_URLS, checked again here: a job published around the ingress may name any URL."""
    if len(url) > CALLBACK_URL_MAX_LENGTH or CALLBACK_DOT_SEGMENT.search(urlsplit(url).path):
        return False
    return any(url.startswith(prefix) and CALLBACK_URL_TAIL.match(url[len(prefix):]) for prefix in prefixes)


def shown_url(url: str) -> str:
    """A URL as logs show it: without credentials, query or fragment, which may hold a token."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}{':' + str(parts.port) if parts.port else ''}{parts.path}"


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    # A callback's body must not go where nobody allowed it: a redirect is an answer like any other.
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_callback_opener = urllib.request.build_opener(_NoRedirects)


def post_callback(url: str, body: bytes, headers: Dict[str, str], timeout_s: float) -> int:
    """One callback request (blocking: run in a thread); the answer's status, or an OSError."""
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with _callback_opener.open(request, timeout=timeout_s) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def state_fields(job: Dict[str, str]) -> Dict[str, str]:
    """What of a job goes into its states: all but its callback URL, which travels on the message only."""
    return {key: value for key, value in job.items() if key != "callbackUrl"}


def log(message: str, **fields: Any) -> None:
    print(json.dumps({"time": now_iso(), "msg": message, **fields}), flush=True)


class Worker:
    def __init__(self, settings: Settings, handlers: Dict[str, Handler]) -> None:
        self.settings = settings
        self.handlers = handlers
        self.stopping = asyncio.Event()
        self.callbacks: set = set()

    async def run(self) -> None:
        s = self.settings
        self.nc = await nats.connect(servers=s.nats_url, name="sluice-python-worker")
        self.js = self.nc.jetstream()
        self.kv = await self.js.key_value(s.status_bucket)
        # The consumer is the TypeScript workers' (they create it): bind to it, never define it here.
        self.sub = await self.js.pull_subscribe_bind(durable=s.consumer, stream=s.stream)
        self.scheduled = await self.js.pull_subscribe_bind(durable=f"{s.consumer}-scheduled", stream=s.stream)
        # A pull loop holds a slot while its pull is open, so a job it gets starts at once; a due scheduled
        # job takes the next free one.
        self.slots = asyncio.Semaphore(s.concurrency)
        log("worker started", handlers=sorted(self.handlers), concurrency=s.concurrency)
        self.callback_slots = asyncio.Semaphore(s.callback_concurrency)
        await asyncio.gather(self.scheduled_loop(), *(self.pull_loop() for _ in range(s.concurrency)))
        # Every job taken has had its answer; callbacks still held get a few seconds, then are dropped.
        if self.callbacks:
            _, left = await asyncio.wait(self.callbacks, timeout=CALLBACK_CLOSE_S)
            for task in left:
                task.cancel()
            if left:
                log("job callbacks dropped: the worker is shutting down", count=len(left))
        await self.nc.close()

    # One job at a time per loop: a pull asks for one job only when this loop can run it at once.
    async def pull_loop(self) -> None:
        while not self.stopping.is_set():
            async with self.slots:
                try:
                    msgs = await self.sub.fetch(batch=1, timeout=PULL_EXPIRES_S)
                except NatsTimeoutError:
                    continue
                for msg in msgs:
                    await self.run_job(msg)

    # Scheduled jobs (docs/wire-protocol.md): the first delivery, and any before the job's time, is a wait
    # (nak with the time left), which costs no slot; a later one is due and runs, its attempt being the
    # delivery count less one.
    async def scheduled_loop(self) -> None:
        while not self.stopping.is_set():
            try:
                msgs = await self.scheduled.fetch(batch=1, timeout=PULL_EXPIRES_S)
            except NatsTimeoutError:
                continue
            for msg in msgs:
                due = (msg.headers or {}).get("Sluice-Run-At", "")
                try:
                    left = datetime.fromisoformat(due.replace("Z", "+00:00")).timestamp() - datetime.now(timezone.utc).timestamp()
                except ValueError:
                    left = 0.0
                hold = min(EARLY_HOLD_S, self.settings.ack_wait_s / 2)
                if msg.metadata.num_delivered == 1 or left > hold or self.stopping.is_set():
                    await msg.nak(delay=max(0.0, left) if msg.metadata.num_delivered == 1 or left > hold else None)
                    continue
                heartbeat = asyncio.create_task(self.heartbeat(msg))
                try:
                    await self.slots.acquire()
                finally:
                    heartbeat.cancel()
                try:
                    if left > 0:
                        await msg.in_progress()
                        await asyncio.sleep(left)
                    await self.run_job(msg, waits=1)
                finally:
                    self.slots.release()

    async def run_job(self, msg: Any, waits: int = 0) -> None:
        s = self.settings
        headers = msg.headers or {}
        prefix = f"_sluice.scheduled.{s.stream}" if msg.subject.startswith(f"_sluice.scheduled.{s.stream}.") else s.subject_prefix
        job = {
            "id": job_id_from_subject(msg.subject, prefix),
            "type": headers.get("Sluice-Job-Type", ""),
            "queuedAt": headers.get("Sluice-Queued-At", ""),
        }
        # The submitting API key's label: every state carries it, so the ingress keeps the job to that key.
        if headers.get("Sluice-Owner"):
            job["owner"] = headers["Sluice-Owner"]
        if headers.get("Sluice-Callback-Url"):
            job["callbackUrl"] = headers["Sluice-Callback-Url"]
        attempt = msg.metadata.num_delivered - waits
        base = {**state_fields(job), "attempts": attempt}
        if attempt > 1:
            recorded = await self.read_state(job["id"])
            if recorded and recorded.get("state") == "succeeded" and recorded.get("queuedAt") == job["queuedAt"]:
                await msg.ack()
                return
        if attempt > s.max_deliver:
            return await self.dead_letter(msg, job, attempt - 1, f"no outcome after {attempt - 1} deliveries (worker lost or stuck past ack_wait)")
        handler = self.handlers.get(job["type"])
        if handler is None:
            return await self.dead_letter(msg, job, attempt, f'no handler for job type "{job["type"]}"')
        try:
            payload = json.loads(msg.data)
        except ValueError:
            return await self.dead_letter(msg, job, attempt, "payload is not valid JSON")

        started_at = now_iso()
        await self.record(msg, {**base, "state": "running", "startedAt": started_at, "updatedAt": started_at})
        heartbeat = asyncio.create_task(self.heartbeat(msg))
        try:
            result = await handler(payload, {"job": job, "attempt": attempt})
            if result is not None:
                size = len(json.dumps(result, separators=(",", ":"), ensure_ascii=False).encode())
                if size > s.result_max_bytes:
                    raise ValueError(f"the result is {size} bytes of JSON, over JOB_RESULT_MAX_BYTES ({s.result_max_bytes})")
        except PermanentJobError as error:
            return await self.dead_letter(msg, job, attempt, error_text(error), started_at)
        except Exception as error:  # noqa: BLE001 - any failure of the handler is the job's failure
            if attempt >= s.max_deliver:
                return await self.dead_letter(msg, job, attempt, error_text(error), started_at)
            delay = s.retry_delay_s(attempt)
            now = now_iso()
            next_at = datetime.fromtimestamp(datetime.now(timezone.utc).timestamp() + delay, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
            await self.record(msg, {**base, "state": "failed", "error": error_text(error), "startedAt": started_at, "updatedAt": now, "nextAttemptAt": next_at})
            await msg.nak(delay=delay)
            return
        finally:
            heartbeat.cancel()
        finished = now_iso()
        status = {**base, "state": "succeeded", "startedAt": started_at, "finishedAt": finished, "updatedAt": finished}
        if result is not None:
            status["result"] = result
        recorded = await self.record(msg, status)
        self.send_callback(job, status, recorded)
        await msg.ack()
        log("job succeeded", jobId=job["id"], jobType=job["type"], attempt=attempt)

    # Keeps the job ours while the handler runs: ack_wait only catches workers that are really gone.
    async def heartbeat(self, msg: Any) -> None:
        while True:
            await asyncio.sleep(self.settings.ack_wait_s / 2)
            await msg.in_progress()

    async def read_state(self, job_id: str) -> Optional[Dict[str, Any]]:
        try:
            entry = await self.kv.get(job_id)
        except KeyNotFoundError:
            return None
        try:
            return json.loads(entry.value) if entry.value else None
        except ValueError:
            return None

    # States only move forward (see supersedes): a compare-and-set on the key's revision, read again when
    # another writer got in between. A state that cannot be written never fails the job. Returns "recorded"
    # when this write recorded it, "superseded" when the recorded state was newer, else "failed".
    async def record(self, msg: Any, status: Dict[str, Any]) -> str:
        value = json.dumps(status).encode()
        try:
            for _ in range(5):
                try:
                    entry = await self.kv.get(status["id"])
                    current = json.loads(entry.value) if entry.value else None
                except KeyNotFoundError:
                    entry, current = None, None
                if current and not supersedes(status, current):
                    return "superseded"
                try:
                    if entry is None:
                        await self.kv.create(status["id"], value)
                    else:
                        await self.kv.update(status["id"], value, last=entry.revision)
                    return "recorded"
                except KeyWrongLastSequenceError:
                    continue
        except Exception as error:  # noqa: BLE001
            log("job state not recorded", jobId=status["id"], error=str(error))
        return "failed"

    # A final state's callback (docs/wire-protocol.md#callbacks): only when this write recorded the state (a
    # cancel recorded first is the ingress's to report), in the background, so it holds neither the job's
    # answer nor a pull loop.
    def send_callback(self, job: Dict[str, str], status: Dict[str, Any], recorded: str) -> None:
        url = job.get("callbackUrl")
        if not url or recorded == "superseded":
            return
        fields = {"jobId": job["id"], "callbackUrl": shown_url(url)}
        if recorded == "failed":
            return log("job callback not sent", reason="its final state could not be recorded", **fields)
        if not callback_allowed(url, self.settings.callback_prefixes):
            return log("job callback not sent: its URL is not allowed", **fields)
        if len(self.callbacks) >= self.settings.callback_max_pending or self.stopping.is_set():
            return log("job callback dropped: JOB_CALLBACK_MAX_PENDING are held, or the worker is stopping", **fields)
        shown = {key: value for key, value in status.items() if key != "owner"}
        task = asyncio.create_task(self.deliver_callback(url, shown, fields))
        self.callbacks.add(task)
        task.add_done_callback(self.callbacks.discard)

    async def deliver_callback(self, url: str, status: Dict[str, Any], fields: Dict[str, str]) -> None:
        s = self.settings
        body = json.dumps(status).encode()
        callback_id = secrets.token_urlsafe(16)
        for attempt in range(1, s.callback_attempts + 1):
            headers = {
                "content-type": "application/json",
                "Sluice-Callback-Id": callback_id,
                "Sluice-Callback-Attempt": str(attempt),
                "Sluice-Job-Id": status["id"],
                "Sluice-Job-Type": status["type"],
                "Sluice-Job-State": status["state"],
                "Sluice-Queued-At": status["queuedAt"],
            }
            if s.callback_secret:
                timestamp = str(int(time.time()))
                digest = hmac.new(s.callback_secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
                headers.update({"Sluice-Timestamp": timestamp, "Sluice-Signature": f"v1={digest}"})
            try:
                async with self.callback_slots:
                    status_code = await asyncio.to_thread(post_callback, url, body, headers, s.callback_timeout_s)
                error = f"HTTP {status_code}"
            except OSError as failure:
                status_code, error = 0, str(getattr(failure, "reason", failure))
            if 200 <= status_code < 300:
                return log("job callback delivered", attempt=attempt, status=status_code, state=status["state"], **fields)
            if status_code and status_code not in (408, 429) and status_code < 500:
                return log("job callback given up: the receiver refused it", attempt=attempt, error=error, **fields)
            if attempt < s.callback_attempts:
                delay_ms = s.callback_backoff_ms[min(attempt, len(s.callback_backoff_ms)) - 1]
                log("job callback failed; will retry", attempt=attempt, error=error, retryInMs=delay_ms, **fields)
                await asyncio.sleep(delay_ms / 1000)
        log("job callback given up after JOB_CALLBACK_ATTEMPTS", attempt=s.callback_attempts, error=error, **fields)

    # Dead letter first, then term: the job is in exactly one stream at every moment that matters.
    async def dead_letter(self, msg: Any, job: Dict[str, str], attempts: int, error: str, started_at: Optional[str] = None) -> None:
        s = self.settings
        headers = {
            "Nats-Msg-Id": f"{job['id'][:128]}-{msg.metadata.sequence.stream}",
            "Sluice-Job-Type": job["type"],
            "Sluice-Queued-At": job["queuedAt"],
            "Sluice-Error": error_text(Exception(error)),
            "Sluice-Attempts": str(attempts),
            "Sluice-Dead-At": now_iso(),
        }
        if job.get("owner"):
            headers["Sluice-Owner"] = job["owner"]
        if job.get("callbackUrl"):
            headers["Sluice-Callback-Url"] = job["callbackUrl"]
        try:
            await self.js.publish(f"{s.dlq_subject_prefix}.{job['id']}", msg.data, headers=headers)
        except Exception as publish_error:  # noqa: BLE001
            log("dead-lettering failed; job stays queued", jobId=job["id"], error=str(publish_error))
            await msg.nak(delay=s.retry_delay_s(attempts))
            return
        now = now_iso()
        status = {**state_fields(job), "attempts": attempts, "state": "dead", "error": error, "finishedAt": now, "updatedAt": now}
        if started_at:
            status["startedAt"] = started_at
        recorded = await self.record(msg, status)
        self.send_callback(job, status, recorded)
        await msg.term()
        log("job dead-lettered", jobId=job["id"], jobType=job["type"], error=error)


def run(handlers: Dict[str, Handler]) -> None:
    """Runs a worker with `handlers` (job type to async function of payload and context) until SIGTERM."""
    import signal

    worker = Worker(Settings(dict(os.environ)), handlers)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, worker.stopping.set)
        await worker.run()

    asyncio.run(main())
    sys.exit(0)
