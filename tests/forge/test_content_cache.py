"""Forge reads cached by content hash: what is read is always the ref's current content,
and an object id is read from git or GitHub once."""

from __future__ import annotations

import gc
import os
import signal
import subprocess
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.fake_github import FakeGitHub, make_github_forge, start_fake_github
from support.local_repo import git

from aito.errors import PermanentAdapterError
from aito.forge import caching
from aito.forge.base import Identity
from aito.forge.github import GitHubForge
from aito.forge.local import LocalForge

AUTHOR = Identity("ceo-bot", 9101)
USER = ("-c", "user.name=t", "-c", "user.email=t@example.com")
FILES = {
    "org/org.yaml": b"name: acme\n",
    "org/agents/ceo.yaml": b"id: ceo\n",
    "org/agents/deep/cto.yaml": b"id: cto\n",
    "org2/not-org.yaml": b"no\n",
    "profiles/ceo.md": b"# CEO\n",
    "profiles/copy.md": b"# CEO\n",  # the same blob as ceo.md
    "empty.txt": b"",
    "README.md": b"# acme\n",
}
BLOBS = "GET /repos/{owner}/{repo}/git/blobs/{file_sha}"
TREES = "GET /repos/{owner}/{repo}/git/trees/{tree_sha}"


def _repo(root: Path, files: dict[str, bytes] = FILES) -> Path:
    for name, content in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(content)
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, *USER, "commit", "-qm", "first")
    return root


def _ls_tree(repo: Path, ref: str, *prefixes: str) -> dict[str, bytes]:
    """What plain git says the files under ``prefixes`` are (the old implementation)."""
    out = git(repo, "ls-tree", "-r", "--full-tree", ref, "--", *prefixes)
    found = {}
    for line in filter(None, out.split("\n")):
        meta, path = line.split("\t", 1)
        _, kind, blob = meta.split()
        if kind == "blob":
            found[path] = _cat(repo, blob)
    return found


def _cat(repo: Path, blob: str) -> bytes:
    return subprocess.run(
        ["git", "-C", str(repo), "cat-file", "blob", blob], check=True, capture_output=True
    ).stdout


@pytest.fixture
def forge(tmp_path: Path) -> Iterator[LocalForge]:
    local = LocalForge(repo=_repo(tmp_path / "repo"), store=tmp_path / "store")
    yield local
    local.disconnect()


# -- LocalForge ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "prefixes",
    [
        ["org/"],
        ["org"],
        ["org/agents"],
        ["org/agents/ceo.yaml"],
        ["profiles/", "org/org.yaml"],
        ["org/", "org/agents/"],  # overlapping: each file once
        ["nowhere/"],
        ["org/org.yaml/x"],
        [""],
    ],
)
def test_local_read_tree_lists_what_git_ls_tree_lists(
    forge: LocalForge, prefixes: list[str]
) -> None:
    found = forge.read_tree("main", prefixes=prefixes)
    assert found == _ls_tree(forge.repo, "main", *[p for p in prefixes if p])
    assert list(found) == list(_ls_tree(forge.repo, "main", *[p for p in prefixes if p]))
    assert "org2/not-org.yaml" not in found or prefixes == [""]


def test_local_read_tree_follows_a_branch_moved_by_plain_git(forge: LocalForge) -> None:
    first = forge.read_tree("main", prefixes=["org/"])
    old = git(forge.repo, "rev-parse", "main").strip()
    (forge.repo / "org" / "org.yaml").write_bytes(b"name: renamed\n")
    git(forge.repo, *USER, "commit", "-qam", "outside the forge")
    git(forge.repo, "pack-refs", "--all")  # the ref now lives in packed-refs

    assert forge.read_tree("main", prefixes=["org/org.yaml"]) == {
        "org/org.yaml": b"name: renamed\n"
    }
    assert forge.read_tree(old, prefixes=["org/"]) == first  # a commit id never changes
    (forge.repo / "org" / "org.yaml").write_bytes(b"name: third\n")
    git(forge.repo, *USER, "commit", "-qam", "again")
    git(forge.repo, "gc", "-q")  # objects move into a pack meanwhile
    assert forge.read_tree("main", prefixes=["org/org.yaml"])["org/org.yaml"] == b"name: third\n"


def test_local_read_tree_sees_its_own_commits_and_other_forges_commits(
    forge: LocalForge, tmp_path: Path
) -> None:
    forge.read_tree("main", prefixes=["org/"])
    other = LocalForge(repo=forge.repo, store=tmp_path / "store")  # another process's forge
    sha = other.commit_files(
        branch="w",
        base="main",
        files={"org/org.yaml": b"name: w\n", "org/agents/ceo.yaml": None},
        message="m",
        author=AUTHOR,
    )
    other.disconnect()
    expected = {
        "org/agents/deep/cto.yaml": b"id: cto\n",
        "org/org.yaml": b"name: w\n",
    }
    assert forge.read_tree("w", prefixes=["org"]) == expected
    assert forge.read_tree(sha, prefixes=["org"]) == expected
    assert forge.read_tree("main", prefixes=["org/org.yaml"]) == {"org/org.yaml": b"name: acme\n"}


def test_local_read_tree_reads_each_object_once_through_one_process(forge: LocalForge) -> None:
    for _ in range(20):
        assert forge.read_tree("main", prefixes=["org/", "profiles/"])["profiles/copy.md"] == (
            b"# CEO\n"
        )
    assert forge.objects.started == 1
    misses = forge.objects.blobs.misses
    forge.read_tree("main", prefixes=["org/", "profiles/"])
    assert forge.objects.blobs.misses == misses  # nothing read from git again


def test_local_refs_resolve_like_rev_parse(forge: LocalForge) -> None:
    head = git(forge.repo, "rev-parse", "main").strip()
    git(forge.repo, "tag", "v1")
    tree = git(forge.repo, "rev-parse", "main^{tree}").strip()
    assert forge.read_tree("v1", prefixes=["README.md"]) == {"README.md": b"# acme\n"}
    assert forge.read_tree(head[:12], prefixes=["empty.txt"]) == {"empty.txt": b""}
    for bad in ["nope", tree, "main\nmain", " main", "", "main^{tree}"]:
        with pytest.raises(PermanentAdapterError, match="no branch or commit"):
            forge.read_tree(bad, prefixes=["org/"])


def test_local_reads_survive_the_git_process_dying(forge: LocalForge) -> None:
    forge.read_tree("main", prefixes=["README.md"])
    proc = forge.objects._proc
    assert proc is not None
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert forge.read_tree("main", prefixes=["org/org.yaml"]) == {"org/org.yaml": b"name: acme\n"}
    assert forge.objects.started == 2


def test_a_forgotten_local_forge_stops_its_git_process(tmp_path: Path) -> None:
    forge = LocalForge(repo=_repo(tmp_path / "repo"), store=tmp_path / "store")
    forge.read_tree("main", prefixes=["org/"])
    proc = forge.objects._proc
    assert proc is not None and proc.poll() is None
    del forge
    gc.collect()
    assert proc.returncode == 0  # ended by closing its input, no warning left behind


# -- GitHubForge -----------------------------------------------------------------------


@pytest.fixture
def server() -> Iterator[FakeGitHub]:
    fake = start_fake_github(users={})
    fake.create_repo("acme/governance", files=FILES)
    yield fake
    fake.stop()


def _github(server: FakeGitHub, local_objects: Path | None = None) -> GitHubForge:
    return make_github_forge(
        server,
        repo="acme/governance",
        governance=("aito-governance", 9000),
        agents={"ceo": (AUTHOR.login, AUTHOR.id)},
        local_objects=local_objects,
    )


def test_github_reads_each_blob_once_and_a_commit_tree_once(server: FakeGitHub) -> None:
    with _github(server) as forge:
        first = forge.read_tree("main", prefixes=["org/", "profiles/"])
        assert server.calls[BLOBS] == 4  # five files, two of them the same blob
        sha = forge.commit_files(
            branch="w",
            base="main",
            files={"org/org.yaml": b"name: w\n"},
            message="m",
            author=AUTHOR,
        )
        server.reset_counts()

        assert forge.read_tree("main", prefixes=["org/", "profiles/"]) == first
        assert (server.calls[TREES], server.calls[BLOBS]) == (1, 0)  # a branch may move
        changed = forge.read_tree(sha, prefixes=["org/org.yaml"])
        assert changed == {"org/org.yaml": b"name: w\n"}
        assert (server.calls[TREES], server.calls[BLOBS]) == (2, 1)  # the new blob only
        assert forge.read_tree(sha, prefixes=["org/"])["org/org.yaml"] == b"name: w\n"
        assert (server.calls[TREES], server.calls[BLOBS]) == (2, 1)  # a commit's tree: once


def test_github_follows_a_moved_branch(server: FakeGitHub) -> None:
    with _github(server) as forge:
        assert forge.read_tree("main", prefixes=["org/org.yaml"]) == {
            "org/org.yaml": b"name: acme\n"
        }
    with _github(server) as writer:
        writer.commit_files(
            branch="main", base="main", files={"org/org.yaml": b"v2\n"}, message="m", author=AUTHOR
        )
    with _github(server) as forge:
        forge.read_tree("main", prefixes=["org/"])
        with _github(server) as writer:
            writer.commit_files(
                branch="main",
                base="main",
                files={"org/org.yaml": b"v3\n"},
                message="m",
                author=AUTHOR,
            )
        assert forge.read_tree("main", prefixes=["org/org.yaml"]) == {"org/org.yaml": b"v3\n"}


def test_github_takes_blobs_from_a_local_clone_only_by_their_hash(
    server: FakeGitHub, tmp_path: Path
) -> None:
    same = _repo(tmp_path / "same")
    with _github(server, local_objects=same) as forge:
        assert forge.read_tree("main", prefixes=[""]) == FILES
        assert server.calls[BLOBS] == 0

    server.reset_counts()
    different = _repo(tmp_path / "different", FILES | {"org/org.yaml": b"name: evil\n"})
    with _github(server, local_objects=different) as forge:
        assert forge.read_tree("main", prefixes=["org/org.yaml"]) == {
            "org/org.yaml": b"name: acme\n"
        }
        assert server.calls[BLOBS] == 1

    # A doctored object store: the real blob's id, other content. Never taken.
    server.reset_counts()
    doctored = _repo(tmp_path / "doctored")
    blob = git(doctored, "rev-parse", "main:org/org.yaml").strip()
    loose = doctored / ".git" / "objects" / blob[:2] / blob[2:]
    loose.chmod(0o644)
    loose.write_bytes(zlib.compress(b"blob 11\0name: evil\n"))
    with _github(server, local_objects=doctored) as forge:
        assert forge.read_tree("main", prefixes=["org/org.yaml"]) == {
            "org/org.yaml": b"name: acme\n"
        }
        assert server.calls[BLOBS] == 1


# -- the cache -------------------------------------------------------------------------


def test_object_ids_are_gits_own() -> None:
    for data in (b"", b"name: acme\n", bytes(range(256))):
        assert caching.object_id("blob", data, like="0" * 40) == _hash_object(data)
    assert len(caching.object_id("blob", b"x", like="0" * 64)) == 64


def _hash_object(data: bytes) -> str:
    return (
        subprocess.run(
            ["git", "hash-object", "--stdin"], input=data, check=True, capture_output=True
        )
        .stdout.decode()
        .strip()
    )


def test_the_lru_keeps_the_recent_within_its_weight() -> None:
    cache = caching.blob_cache(max_bytes=10)
    cache.put("a", b"1234")
    cache.put("b", b"1234")
    assert cache.get("a") == b"1234"  # a is now the most recent
    cache.put("c", b"1234")  # 12 bytes: b goes
    assert "b" not in cache and cache.get("a") == b"1234" and cache.get("c") == b"1234"
    assert cache.put("big", b"x" * 11) == b"x" * 11 and "big" not in cache
    assert cache.weight == 8
    cache.put("a", b"")  # replacing a value re-weighs it
    assert cache.weight == 4 and cache.get("a") == b""


def test_only_full_hex_ids_count_as_content_hashes() -> None:
    assert caching.is_object_id("a" * 40) and caching.is_object_id("0" * 64)
    for ref in ["main", "a" * 39, "A" * 40, "a" * 41, "g" * 40, "a" * 40 + "\n"]:
        assert not caching.is_object_id(ref)
    assert caching.under("org/a.yaml", ["org"]) and caching.under("org/a.yaml", ["org/"])
    assert not caching.under("org2/a.yaml", ["org"])
    assert caching.under("anything", [""]) and caching.under("x", ["/"])
