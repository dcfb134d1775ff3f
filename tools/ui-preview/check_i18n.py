#!/usr/bin/env python3
"""Static checks of ui/: both languages have the same keys, every t('literal') key exists,
and no inline styles/scripts or innerHTML sneak in. Exit status 1 on any problem."""
import pathlib, re, sys

ui = pathlib.Path(__file__).resolve().parents[2] / "ui"
src = (ui / "i18n.js").read_text()

def keys(block_name):
    m = re.search(r"const %s = \{(.*?)\n\};" % block_name, src, re.S)
    return set(re.findall(r"^\s*'([^']+)':", m.group(1), re.M))

en, zh = keys("en"), keys("zh")
# `key.one`: an English singular (t() picks it when n is 1); it needs `key` itself, and Chinese
# needs no singular.
singulars = {k for k in en if k.endswith(".one")}
problems = [f"missing in zh: {k}" for k in sorted(en - zh - singulars)] + [f"missing in en: {k}" for k in sorted(zh - en)]
problems += [f"singular without its key: {k}" for k in sorted(singulars) if k[:-4] not in en]

def code_only(text):
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return re.sub(r"^\s*//.*$", "", text, flags=re.M)

js = {p: code_only(p.read_text()) for p in ui.rglob("*.js")}
for path, text in js.items():
    for k in re.findall(r"\bt\('([^']+)'", text):
        if k not in en:
            problems.append(f"{path.relative_to(ui)}: unknown key {k}")
    for bad in ("innerHTML", "outerHTML =", "insertAdjacentHTML", ".style.", "setAttribute('style'", "eval("):
        if bad in text:
            problems.append(f"{path.relative_to(ui)}: uses {bad}")
html = (ui / "index.html").read_text()
if re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html) or "style=" in html or "<style" in html:
    problems.append("index.html: inline script or style")

print("\n".join(problems) or f"i18n ok: {len(en)} keys in en and zh-CN; no inline script/style, no innerHTML")
sys.exit(1 if problems else 0)
