"""The Python side of the example: the same job types as examples/typescript-handlers, in Python.

Run it with the Sluice settings in the environment (NATS_URL, QUEUE_*, JOB_STATUS_BUCKET...):
    .tools/python-worker/bin/python examples/python-worker/worker.py
"""

from typing import Any, Dict

from sluice_worker import PermanentJobError, run


async def greet(payload: Dict[str, Any], context: Dict[str, Any]) -> Dict[str, Any]:
    return {"greeting": f"Hello, {payload['name']}!"}


async def word_count(payload: Dict[str, Any], context: Dict[str, Any]) -> Dict[str, Any]:
    words = payload["text"].split()
    if not words:
        raise PermanentJobError("the text has no words")
    return {"words": len(words)}


async def echo(payload: Any, context: Dict[str, Any]) -> Any:
    return payload


if __name__ == "__main__":
    run({"greet": greet, "word-count": word_count, "echo": echo})
