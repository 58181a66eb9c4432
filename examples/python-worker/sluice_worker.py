"""A Sluice worker in Python: the wire protocol of docs/wire-protocol.md, with the official NATS client.

It pulls from the same durable consumer as the TypeScript workers, so both take jobs from one queue, and it
records job states and dead letters the way they do, so `GET /v1/jobs/<id>` and the dead-letter API show its
jobs like any others. Configuration comes from the same environment variables as the Sluice apps.
"""

import asyncio
import base64
import hashlib
import json
import os
import re
import sys
from datetime import datetime, timezone
from typing import Any, Awaitable, Callable, Dict, Optional

import nats
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError

JOB_ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
# Dead-letter errors are cut to this many UTF-8 bytes (DEAD_LETTER_ERROR_MAX_BYTES).
ERROR_MAX_BYTES = 1024
# Lifetime of one pull request, in s: a pull lost with a server restart is replaced within about this long.
PULL_EXPIRES_S = 5.0


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


PHASE = {"queued": 0, "running": 1, "failed": 2, "succeeded": 2, "dead": 2, "cancelled": 2}


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

    def retry_delay_s(self, attempt: int) -> float:
        return self.backoff_ms[min(attempt, len(self.backoff_ms)) - 1] / 1000


def log(message: str, **fields: Any) -> None:
    print(json.dumps({"time": now_iso(), "msg": message, **fields}), flush=True)


class Worker:
    def __init__(self, settings: Settings, handlers: Dict[str, Handler]) -> None:
        self.settings = settings
        self.handlers = handlers
        self.stopping = asyncio.Event()

    async def run(self) -> None:
        s = self.settings
        self.nc = await nats.connect(servers=s.nats_url, name="sluice-python-worker")
        self.js = self.nc.jetstream()
        self.kv = await self.js.key_value(s.status_bucket)
        # The consumer is the TypeScript workers' (they create it): bind to it, never define it here.
        self.sub = await self.js.pull_subscribe_bind(durable=s.consumer, stream=s.stream)
        log("worker started", handlers=sorted(self.handlers), concurrency=s.concurrency)
        await asyncio.gather(*(self.pull_loop() for _ in range(s.concurrency)))
        # Every job taken has had its answer: nothing is left to drain.
        await self.nc.close()

    # One job at a time per loop: a pull asks for one job only when this loop can run it at once.
    async def pull_loop(self) -> None:
        while not self.stopping.is_set():
            try:
                msgs = await self.sub.fetch(batch=1, timeout=PULL_EXPIRES_S)
            except NatsTimeoutError:
                continue
            for msg in msgs:
                await self.run_job(msg)

    async def run_job(self, msg: Any) -> None:
        s = self.settings
        headers = msg.headers or {}
        job = {
            "id": job_id_from_subject(msg.subject, s.subject_prefix),
            "type": headers.get("Sluice-Job-Type", ""),
            "queuedAt": headers.get("Sluice-Queued-At", ""),
        }
        # The submitting API key's label: every state carries it, so the ingress keeps the job to that key.
        if headers.get("Sluice-Owner"):
            job["owner"] = headers["Sluice-Owner"]
        attempt = msg.metadata.num_delivered
        base = {**job, "attempts": attempt}
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
        await self.record(msg, status)
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
    # another writer got in between. A state that cannot be written never fails the job.
    async def record(self, msg: Any, status: Dict[str, Any]) -> None:
        value = json.dumps(status).encode()
        try:
            for _ in range(5):
                try:
                    entry = await self.kv.get(status["id"])
                    current = json.loads(entry.value) if entry.value else None
                except KeyNotFoundError:
                    entry, current = None, None
                if current and not supersedes(status, current):
                    return
                try:
                    if entry is None:
                        await self.kv.create(status["id"], value)
                    else:
                        await self.kv.update(status["id"], value, last=entry.revision)
                    return
                except KeyWrongLastSequenceError:
                    continue
        except Exception as error:  # noqa: BLE001
            log("job state not recorded", jobId=status["id"], error=str(error))

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
        if msg.headers and msg.headers.get("Sluice-Callback-Url"):
            headers["Sluice-Callback-Url"] = msg.headers["Sluice-Callback-Url"]
        try:
            await self.js.publish(f"{s.dlq_subject_prefix}.{job['id']}", msg.data, headers=headers)
        except Exception as publish_error:  # noqa: BLE001
            log("dead-lettering failed; job stays queued", jobId=job["id"], error=str(publish_error))
            await msg.nak(delay=s.retry_delay_s(attempts))
            return
        now = now_iso()
        status = {**job, "attempts": attempts, "state": "dead", "error": error, "finishedAt": now, "updatedAt": now}
        if started_at:
            status["startedAt"] = started_at
        await self.record(msg, status)
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
