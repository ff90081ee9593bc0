#!/usr/bin/env python3
"""A scripted OpenAI-compatible chat server on loopback, for tests.

    server.py --script steps.json --log requests.jsonl [--exit-on-stdin-eof]

Listens on 127.0.0.1 on a free port and prints "PORT <n>" on stdout once it
accepts connections. POST /v1/chat/completions answers from the script, a
JSON list of steps used in order; each request takes the first unused step
whose "match" (if any) occurs in the content of the request's last user
message. A step is one of:

    {"content": "..."}                          a normal chat completion with usage
    {"content": "...", "no_usage": true}        the same without "usage" (some Ollama/llama.cpp builds)
    {"content": "...", "usage": {"prompt_tokens": 10, "completion_tokens": 5}}
    {"status": 429, "headers": {"Retry-After": "1"}, "body": {...} or "text"}
    {"status": 500}                             any status; body defaults to an OpenAI-style error
    {"hang": 5}                                 say nothing for 5 s, then close the connection
    {"raw": "not json"}                         HTTP 200 with this body as it is

and may add "match": "substring", "delay": seconds (before answering) and
"repeat": true (the step is never used up). When no step is left the server
answers 400 with the error message "mock_llm: script exhausted", which a
client does not retry.

Every request is appended to the log as one JSON line: {"n", "method",
"path", "headers", "body" (parsed JSON, or the raw text), "step" (its index in
the script, or null)}. GET /v1/models lists one model. SIGTERM or SIGINT (or
EOF on stdin with --exit-on-stdin-eof, so a crashed test leaves no server
behind) stops the server cleanly with exit status 0.
"""
import argparse
import json
import os
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MODEL = "mock-model"


class Script:
    """The steps and which of them are used up; shared by the handler threads."""

    def __init__(self, steps, log_path):
        self.steps = steps
        self.used = [False] * len(steps)
        self.lock = threading.Lock()
        self.count = 0
        self.log_path = log_path

    def take(self, last_user):
        with self.lock:
            for i, step in enumerate(self.steps):
                if self.used[i]:
                    continue
                match = step.get("match")
                if match is not None and match not in last_user:
                    continue
                if not step.get("repeat"):
                    self.used[i] = True
                return i, step
            return None, None

    def log(self, entry):
        with self.lock:
            self.count += 1
            entry["n"] = self.count
            with open(self.log_path, "a", encoding="utf-8") as f:
                f.write(json.dumps(entry) + "\n")


def last_user_message(body):
    if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
        return ""
    for m in reversed(body["messages"]):
        if isinstance(m, dict) and m.get("role") == "user":
            c = m.get("content")
            return c if isinstance(c, str) else json.dumps(c)
    return ""


def completion(step, body, n):
    content = step["content"]
    reply = {
        "id": "chatcmpl-mock-%d" % n,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model", MODEL) if isinstance(body, dict) else MODEL,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                     "finish_reason": step.get("finish_reason", "stop")}],
    }
    if not step.get("no_usage"):
        usage = step.get("usage")
        if usage is None:  # a rough count: four characters per token
            prompt = sum(len(m.get("content") or "") for m in body.get("messages", []) if isinstance(m, dict))
            usage = {"prompt_tokens": prompt // 4 + 1, "completion_tokens": len(content) // 4 + 1}
        usage = dict(usage)
        usage["total_tokens"] = usage.get("prompt_tokens", 0) + usage.get("completion_tokens", 0)
        reply["usage"] = usage
    return reply


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    script = None  # set in main
    stopping = None

    def log_message(self, fmt, *args):  # keep stderr quiet; the JSONL log is the record
        pass

    def send_json(self, status, obj, headers=None):
        data = obj.encode() if isinstance(obj, str) else json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, str(v))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        self.script.log({"method": "GET", "path": self.path, "headers": dict(self.headers), "body": None,
                         "step": None})
        if self.path.rstrip("/") == "/v1/models":
            self.send_json(200, {"object": "list", "data": [{"id": MODEL, "object": "model", "owned_by": "mock"}]})
        else:
            self.send_json(404, {"error": {"message": "mock_llm: no route %s" % self.path, "type": "not_found"}})

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode("utf-8", "replace")
        try:
            body = json.loads(raw)
        except ValueError:
            body = raw
        if self.path.rstrip("/") != "/v1/chat/completions":
            self.script.log({"method": "POST", "path": self.path, "headers": dict(self.headers), "body": body,
                             "step": None})
            self.send_json(404, {"error": {"message": "mock_llm: no route %s" % self.path, "type": "not_found"}})
            return
        index, step = self.script.take(last_user_message(body))
        self.script.log({"method": "POST", "path": self.path, "headers": dict(self.headers), "body": body,
                         "step": index})
        if step is None:
            self.send_json(400, {"error": {"message": "mock_llm: script exhausted", "type": "invalid_request_error"}})
            return
        self.answer(step, body)

    def pause(self, seconds):
        """Sleep, but wake up when the server is told to stop."""
        self.stopping.wait(seconds)

    def answer(self, step, body):
        if step.get("delay"):
            self.pause(float(step["delay"]))
        if "hang" in step:
            self.pause(float(step["hang"]))
            self.close_connection = True
            return
        if "raw" in step:
            self.send_json(int(step.get("status", 200)), step["raw"], step.get("headers"))
            return
        if "content" in step:
            self.send_json(int(step.get("status", 200)), completion(step, body, self.script.count),
                           step.get("headers"))
            return
        status = int(step.get("status", 500))
        default = {"error": {"message": "mock_llm: scripted HTTP %d" % status, "type": "mock_error"}}
        self.send_json(status, step.get("body", default), step.get("headers"))


def wait_for_eof(stop):
    """Set stop when stdin reaches end of file. Raw reads on fd 0: a buffered
    sys.stdin would hold a lock that interpreter shutdown then waits for."""
    while os.read(0, 4096):
        pass
    stop.set()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--script", required=True, help="JSON list of steps")
    ap.add_argument("--log", required=True, help="JSONL file to append requests to")
    ap.add_argument("--exit-on-stdin-eof", action="store_true", help="stop when stdin closes (the parent died)")
    args = ap.parse_args()
    with open(args.script, encoding="utf-8") as f:
        steps = json.load(f)
    if not isinstance(steps, list) or not all(isinstance(s, dict) for s in steps):
        sys.exit("mock_llm: the script must be a JSON list of objects")

    stop = threading.Event()
    Handler.script = Script(steps, args.log)
    Handler.stopping = stop
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    if args.exit_on_stdin_eof:
        threading.Thread(target=wait_for_eof, args=(stop,), daemon=True).start()
    serving = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    serving.start()
    print("PORT %d" % server.server_address[1], flush=True)
    while not stop.wait(0.1):
        pass
    server.shutdown()
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
