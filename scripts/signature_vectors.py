#!/usr/bin/env python3
"""Independent reference for the GeniusAuth request signature.

signature = lowercase hex SHA-256 of "k1=v1&k2=v2&..." over every parameter sent except
"signature", plus "appSecret"; keys sorted in byte order; values rendered like Go's fmt.Sprint
(strings as they are, integers as digits, booleans as true/false).

Writes crates/geniusauth/tests/data/signature_vectors.json (the Rust tests load it).
With --check, recomputes every vector and exits 1 if the file differs.
"""
import hashlib
import json
import pathlib
import sys

OUT = pathlib.Path(__file__).resolve().parent.parent / "crates/geniusauth/tests/data/signature_vectors.json"

SECRET_100 = ("Q7fz0KpX3mWb9LrT2vYd" * 5)

CASES = [
    ("protocol page example", "S",
     {"token": "abc", "appCode": "Ab3dE6g8", "timeStamp": 1700000000}),
    ("chinese payload", SECRET_100,
     {"token": "eyJhbGciOiJFZERTQSJ9.e30.c2ln", "payload": "研发中心 · 孙翔宇", "appCode": "Ab3dE6g8",
      "timeStamp": 1732500000, "grantType": "refresh_token"}),
    ("ampersand and equals in values", "s&e=cret",
     {"payload": "a=b&c=d", "token": "x&y=z", "appCode": "Ab3dE6g8", "timeStamp": 1}),
    ("spaces and plus", "secret with spaces",
     {"payload": "  two  spaces + plus ", "clientIp": "10.0.0.1", "token": "t", "appCode": "Ab3dE6g8",
      "timeStamp": 1732500001}),
    ("booleans", SECRET_100,
     {"accessToken": True, "token": "r", "payload": "p", "appCode": "Ab3dE6g8", "timeStamp": 1732500002}),
    ("boolean false", SECRET_100,
     {"accessToken": False, "token": "r", "payload": "p", "appCode": "Ab3dE6g8", "timeStamp": 1732500003}),
    ("integers", SECRET_100,
     {"valid": 2592000, "token": "t", "appCode": "Ab3dE6g8", "timeStamp": 1732500004, "grantType": "refresh_token"}),
    ("negative and zero integers", "k", {"a": -42, "b": 0, "appCode": "X", "timeStamp": 0}),
    ("comma separated ids", SECRET_100, {"id": "1,2,30", "appCode": "Ab3dE6g8", "timeStamp": 1732500005}),
    ("byte order puts upper case first", "k",
     {"Zeta": "z", "appCode": "a", "alpha": "b", "_under": "u", "timeStamp": 5}),
    ("empty string and emoji", "🔑秘密",
     {"payload": "", "note": "😀 emoji", "appCode": "Ab3dE6g8", "timeStamp": 1732500006}),
    ("no parameters but the stamp", SECRET_100, {"appCode": "Ab3dE6g8", "timeStamp": 1732500007}),
]


def go_sprint(value):
    if isinstance(value, bool):  # before int: bool is an int in Python
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return value
    raise TypeError(f"unsupported value {value!r}")


def signing_string(params, secret):
    pairs = {k: go_sprint(v) for k, v in params.items() if k != "signature"}
    pairs["appSecret"] = secret
    keys = sorted(pairs, key=lambda k: k.encode("utf-8"))
    return "&".join(f"{k}={pairs[k]}" for k in keys)


def vectors():
    out = []
    for name, secret, params in CASES:
        text = signing_string(params, secret)
        out.append({
            "name": name,
            "secret": secret,
            "params": params,
            "signingString": text,
            "expected": hashlib.sha256(text.encode("utf-8")).hexdigest(),
        })
    return out


def render():
    return json.dumps(vectors(), ensure_ascii=False, indent=2) + "\n"


def main():
    text = render()
    if "--check" in sys.argv[1:]:
        current = OUT.read_text(encoding="utf-8") if OUT.exists() else None
        if current != text:
            print(f"signature vectors in {OUT} are stale or missing; run scripts/signature_vectors.py",
                  file=sys.stderr)
            return 1
        print(f"{len(CASES)} signature vectors up to date")
        return 0
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(text, encoding="utf-8")
    print(f"wrote {len(CASES)} vectors to {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
