"""A local stand-in for the Hugging Face Hub, for publish tests: it records every request.

It speaks the part of the Hub API that huggingface_hub 0.36 uses to publish (read from its
``hf_api.py``, ``_commit_api.py`` and ``lfs.py``): create_repo, the recursive tree listing,
repo info, preupload, the LFS batch/upload/verify steps (plain "basic" transfer, no Xet),
validate-yaml, whoami, the ndjson commit, and resolve/ for downloading a source model's README.md.
Failures can be injected per route (``hub.fail["commit"] = 409``).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

LFS_SUFFIXES = (".onnx", ".onnx_data", ".safetensors", ".bin")


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # names lower-cased
    body: bytes
    route: str

    def json(self) -> Any:
        return json.loads(self.body)

    def ndjson(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.body.splitlines() if line.strip()]


@dataclass
class StoredFile:
    content: bytes
    lfs: bool

    @property
    def blob_id(self) -> str:
        header = f"blob {len(self.content)}\0".encode()
        return hashlib.sha1(header + self.content).hexdigest()

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()


@dataclass
class Repo:
    private: bool
    files: dict[str, StoredFile] = field(default_factory=dict)
    commits: list[dict[str, Any]] = field(default_factory=list)

    @property
    def sha(self) -> str:
        return hashlib.sha1(str(len(self.commits)).encode()).hexdigest()


ROUTES = [
    ("POST", r"^/api/repos/create$", "create"),
    ("POST", r"^/api/validate-yaml$", "validate-yaml"),
    ("GET", r"^/api/whoami-v2$", "whoami"),
    ("GET", r"^/api/models/(?P<repo>[^/]+/[^/]+)/tree/[^/]+(/.*)?$", "tree"),
    ("GET", r"^/api/models/(?P<repo>[^/]+/[^/]+)(/revision/[^/]+)?$", "repo-info"),
    ("POST", r"^/api/models/(?P<repo>[^/]+/[^/]+)/preupload/[^/]+$", "preupload"),
    ("POST", r"^/api/models/(?P<repo>[^/]+/[^/]+)/commit/[^/]+$", "commit"),
    ("POST", r"^/(?P<repo>[^/]+/[^/]+)\.git/info/lfs/objects/batch$", "lfs-batch"),
    ("PUT", r"^/lfs-upload/(?P<oid>[0-9a-f]{64})$", "lfs-upload"),
    ("POST", r"^/lfs-verify/(?P<oid>[0-9a-f]{64})$", "lfs-verify"),
    ("HEAD", r"^/(?P<repo>[^/]+/[^/]+)/resolve/[^/]+/(?P<file>.+)$", "resolve"),
    ("GET", r"^/(?P<repo>[^/]+/[^/]+)/resolve/[^/]+/(?P<file>.+)$", "resolve"),
]


class FakeHub:
    """``with FakeHub(token) as hub:`` serves at ``hub.url`` until the block ends."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.repos: dict[str, Repo] = {}
        self.lfs: dict[str, bytes] = {}
        self.requests: list[Request] = []
        self.fail: dict[str, int] = {}
        self.lock = threading.Lock()
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def _serve(self) -> None:
                hub._handle(self)

            do_GET = do_POST = do_PUT = do_HEAD = do_DELETE = _serve

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeHub:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    # ---- helpers for tests --------------------------------------------------------------------

    def add_repo(self, repo_id: str, files: dict[str, bytes]) -> Repo:
        repo = self.repos[repo_id] = Repo(private=False)
        for path, content in files.items():
            repo.files[path] = StoredFile(content, path.endswith(LFS_SUFFIXES))
            if path.endswith(LFS_SUFFIXES):
                self.lfs[hashlib.sha256(content).hexdigest()] = content
        return repo

    def routes(self) -> list[str]:
        return [r.route for r in self.requests]

    # ---- the server side ----------------------------------------------------------------------

    def _read_body(self, handler: BaseHTTPRequestHandler) -> bytes:
        if (handler.headers.get("Transfer-Encoding") or "").lower() == "chunked":
            chunks = []
            while True:
                size = int(handler.rfile.readline().strip() or b"0", 16)
                if size == 0:
                    handler.rfile.readline()
                    return b"".join(chunks)
                chunks.append(handler.rfile.read(size))
                handler.rfile.readline()
        length = int(handler.headers.get("Content-Length") or 0)
        return handler.rfile.read(length) if length else b""

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(handler.path)
        body = self._read_body(handler)
        method = handler.command
        route, match = "unknown", None
        for verb, pattern, name in ROUTES:
            found = re.match(pattern, parts.path)
            if verb == method and found:
                route, match = name, found
                break
        headers = {key.lower(): value for key, value in handler.headers.items()}
        request = Request(method, handler.path, parse_qs(parts.query), headers, body, route)
        with self.lock:
            self.requests.append(request)
            status, payload, headers = self._answer(request, match)
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        handler.send_response(status)
        content_type = (
            "application/octet-stream" if isinstance(payload, bytes) else ("application/json")
        )
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(data)))
        for key, value in headers.items():
            handler.send_header(key, value)
        handler.end_headers()
        if method != "HEAD":
            handler.wfile.write(data)

    def _authorized(self, request: Request) -> bool:
        return request.headers.get("authorization") == f"Bearer {self.token}"

    def _answer(self, request: Request, match: re.Match[str] | None) -> tuple[int, Any, dict]:
        route = request.route
        if route in self.fail:
            status = self.fail[route]
            return status, {"error": f"injected {status} for {route}"}, {}
        if match is None:
            return 404, {"error": f"no route for {request.method} {request.path}"}, {}
        if route not in ("lfs-upload", "resolve") and not self._authorized(request):
            return 401, {"error": "Invalid credentials in Authorization header"}, {}
        handler = getattr(self, "_" + route.replace("-", "_"))
        return handler(request, match)

    def _missing(self, repo_id: str) -> tuple[int, Any, dict]:
        return 404, {"error": "Repository not found"}, {"X-Error-Code": "RepoNotFound"}

    def _create(self, request: Request, match: re.Match[str]) -> tuple[int, Any, dict]:
        data = request.json()
        repo_id = f"{data['organization']}/{data['name']}"
        if repo_id in self.repos:
            return 409, {"error": "You already created this model repo", "url": ""}, {}
        repo = self.repos[repo_id] = Repo(private=bool(data.get("private")))
        repo.files[".gitattributes"] = StoredFile(
            b"*.onnx filter=lfs diff=lfs merge=lfs -text\n", False
        )
        return 200, {"url": f"{self.url}/{repo_id}", "name": repo_id}, {}

    def _whoami(self, request: Request, match: re.Match[str]) -> tuple[int, Any, dict]:
        access = {"displayName": "publish-test", "role": "write"}
        return 200, {"name": "me", "type": "user", "auth": {"accessToken": access}}, {}

    def _validate_yaml(self, request: Request, match: re.Match[str]) -> tuple[int, Any, dict]:
        return 200, {"errors": [], "warnings": []}, {}

    def _tree(self, request: Request, match: re.Match[str]) -> tuple[int, Any, dict]:
        repo = self.repos.get(match["repo"])
        if repo is None:
            return self._missing(match["repo"])
        entries = []
        for path, stored in sorted(repo.files.items()):
            entry: dict[str, Any] = {
                "type": "file",
                "path": path,
                "size": len(stored.content),
                "oid": stored.blob_id,
            }
            if stored.lfs:
                entry["lfs"] = {
                    "oid": stored.sha256,
                    "size": len(stored.content),
                    "pointerSize": 130,
                }
            entries.append(entry)
        return 200, entries, {}

    def _repo_info(self, request: Request, match: re.Match[str]) -> tuple[int, Any, dict]:
        repo = self.repos.get(match["repo"])
        if repo is None:
            return self._missing(match["repo"])
        return 200, {"id": match["repo"], "sha": repo.sha, "private": repo.private}, {}

    def _preupload(self, request: Request, match: re.Match[str]) -> tuple[int, Any, dict]:
        if match["repo"] not in self.repos:
            return self._missing(match["repo"])
        files = [
            {
                "path": f["path"],
                "shouldIgnore": False,
                "uploadMode": "lfs" if f["path"].endswith(LFS_SUFFIXES) else "regular",
            }
            for f in request.json()["files"]
        ]
        return 200, {"files": files}, {}

    def _lfs_batch(self, request: Request, match: re.Match[str]) -> tuple[int, Any, dict]:
        objects = []
        for item in request.json()["objects"]:
            oid, size = item["oid"], item["size"]
            if oid in self.lfs:  # already stored: no actions, so the client skips it
                objects.append({"oid": oid, "size": size})
                continue
            objects.append(
                {
                    "oid": oid,
                    "size": size,
                    "actions": {
                        "upload": {"href": f"{self.url}/lfs-upload/{oid}"},
                        "verify": {"href": f"{self.url}/lfs-verify/{oid}"},
                    },
                }
            )
        return 200, {"transfer": "basic", "objects": objects}, {}

    def _lfs_upload(self, request: Request, match: re.Match[str]) -> tuple[int, Any, dict]:
        if hashlib.sha256(request.body).hexdigest() != match["oid"]:
            return 400, {"error": "content does not match its oid"}, {}
        self.lfs[match["oid"]] = request.body
        return 200, {}, {}

    def _lfs_verify(self, request: Request, match: re.Match[str]) -> tuple[int, Any, dict]:
        return (200, {}, {}) if match["oid"] in self.lfs else (404, {"error": "not stored"}, {})

    def _commit(self, request: Request, match: re.Match[str]) -> tuple[int, Any, dict]:
        repo = self.repos.get(match["repo"])
        if repo is None:
            return self._missing(match["repo"])
        lines = request.ndjson()
        header = lines[0]["value"]
        for line in lines[1:]:
            value = line["value"]
            if line["key"] == "file":
                repo.files[value["path"]] = StoredFile(base64.b64decode(value["content"]), False)
            elif line["key"] == "lfsFile":
                if value["oid"] not in self.lfs:
                    return 400, {"error": f"LFS object of {value['path']} was never uploaded"}, {}
                repo.files[value["path"]] = StoredFile(self.lfs[value["oid"]], True)
            elif line["key"] == "deletedFile":
                repo.files.pop(value["path"], None)
        repo.commits.append({"header": header, "operations": lines[1:]})
        url = f"{self.url}/{match['repo']}/commit/{repo.sha}"
        return 200, {"commitUrl": url, "commitOid": repo.sha, "pullRequestUrl": None}, {}

    def _resolve(self, request: Request, match: re.Match[str]) -> tuple[int, Any, dict]:
        repo = self.repos.get(match["repo"])
        stored = repo.files.get(match["file"]) if repo else None
        if stored is None:
            return 404, {"error": "Entry not found"}, {"X-Error-Code": "EntryNotFound"}
        headers = {"X-Repo-Commit": repo.sha if repo else "", "ETag": f'"{stored.blob_id}"'}
        return 200, stored.content, headers
