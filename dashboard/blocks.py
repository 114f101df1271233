"""A message's content blocks as a person reads them: one small template each, chosen here.

Every block type of SDK 2.17's `ContentBlock` and `BetaContentBlock` has its own template under
templates/batches/blocks/; a type this list does not know (a newer API) is shown as "unknown block type X"
with its JSON, never dropped and never an error. Values are plain strings and lists: the templates escape them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

_Block = dict[str, Any]


def _pretty(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


def _link(url: Any) -> str:
    """A URL the page may link to: http(s) only (a `javascript:` URL from a page's metadata is text, not a link)."""
    url = str(url or "")
    return url if url.lower().startswith(("https://", "http://")) else ""


def _error_code(content: Any) -> str:
    """A server tool result's error (`*_tool_result_error`, `*_error`): its error_code, else ""."""
    if isinstance(content, dict) and str(content.get("type", "")).endswith("error"):
        return str(content.get("error_code") or "unknown_error")
    return ""


def _text(block: _Block) -> dict[str, Any]:
    citations = []
    for c in block.get("citations") or []:
        if isinstance(c, dict):
            where = c.get("url") or c.get("document_title") or c.get("title") or c.get("source") or c.get("type", "")
            citations.append({"where": str(where), "url": _link(c.get("url")), "cited": str(c.get("cited_text", ""))})
    return {"text": str(block.get("text", "")), "citations": citations}


def _thinking(block: _Block) -> dict[str, Any]:
    return {"thinking": str(block.get("thinking", ""))}


def _redacted(block: _Block) -> dict[str, Any]:
    return {"size": len(str(block.get("data", "")))}


def _tool_use(block: _Block) -> dict[str, Any]:
    return {
        "name": str(block.get("name", "")),
        "id": str(block.get("id", "")),
        "server": str(block.get("server_name") or ""),
        "input": _pretty(block.get("input", {})),
    }


def _web_search(block: _Block) -> dict[str, Any]:
    content = block.get("content")
    results = [
        {
            "title": str(r.get("title", "")),
            "url": str(r.get("url", "")),
            "link": _link(r.get("url")),
            "age": str(r.get("page_age") or ""),
        }
        for r in (content if isinstance(content, list) else [])
        if isinstance(r, dict)
    ]
    return {"tool_use_id": str(block.get("tool_use_id", "")), "error": _error_code(content), "results": results}


def _web_fetch(block: _Block) -> dict[str, Any]:
    content = block.get("content") if isinstance(block.get("content"), dict) else {}
    document = content.get("content") if isinstance(content.get("content"), dict) else {}
    source = document.get("source") if isinstance(document.get("source"), dict) else {}
    text = source.get("data", "") if source.get("type") == "text" else ""
    return {
        "error": _error_code(content),
        "url": str(content.get("url", "")),
        "link": _link(content.get("url")),
        "retrieved_at": str(content.get("retrieved_at") or ""),
        "title": str(document.get("title") or ""),
        "text": str(text),
        "media_type": str(source.get("media_type") or source.get("type") or ""),
    }


def _code_execution(block: _Block) -> dict[str, Any]:
    content = block.get("content") if isinstance(block.get("content"), dict) else {}
    files = [str(f.get("file_id", "")) for f in content.get("content") or [] if isinstance(f, dict)]
    return {
        "error": _error_code(content),
        "stdout": str(content.get("stdout") or ""),
        "encrypted": "encrypted_stdout" in content,
        "stderr": str(content.get("stderr") or ""),
        "return_code": content.get("return_code", ""),
        "files": files,
    }


def _text_editor(block: _Block) -> dict[str, Any]:
    content = block.get("content") if isinstance(block.get("content"), dict) else {}
    kind = str(content.get("type", "")).removeprefix("text_editor_code_execution_").removesuffix("_result")
    return {"error": _error_code(content), "kind": kind, "details": _pretty(content)}


def _tool_search(block: _Block) -> dict[str, Any]:
    content = block.get("content") if isinstance(block.get("content"), dict) else {}
    names = [str(r.get("tool_name", "")) for r in content.get("tool_references") or [] if isinstance(r, dict)]
    return {"error": _error_code(content), "tools": names}


def _container_upload(block: _Block) -> dict[str, Any]:
    return {"file_id": str(block.get("file_id", ""))}


def _mcp_result(block: _Block) -> dict[str, Any]:
    content = block.get("content")
    if isinstance(content, list):
        content = "\n\n".join(str(b.get("text", "")) for b in content if isinstance(b, dict))
    return {
        "tool_use_id": str(block.get("tool_use_id", "")),
        "is_error": bool(block.get("is_error")),
        "text": str(content or ""),
    }


def _mcp_listing(block: _Block) -> dict[str, Any]:
    tools = [str(t.get("name", "")) for t in block.get("tools") or [] if isinstance(t, dict)]
    return {"server": str(block.get("mcp_server_name", "")), "tools": tools}


def _compaction(block: _Block) -> dict[str, Any]:
    return {"summary": str(block.get("content") or ""), "encrypted": bool(block.get("encrypted_content"))}


def _fallback(block: _Block) -> dict[str, Any]:
    def model(side: Any) -> str:
        return str(side.get("model", "")) if isinstance(side, dict) else ""

    trigger = block.get("trigger") if isinstance(block.get("trigger"), dict) else {}
    return {
        "from_model": model(block.get("from")),
        "to_model": model(block.get("to")),
        "trigger": str(trigger.get("type", "")),
        "category": str(trigger.get("category") or ""),
    }


def _advisor(block: _Block) -> dict[str, Any]:
    content = block.get("content") if isinstance(block.get("content"), dict) else {}
    redacted = content.get("type") == "advisor_redacted_result"
    return {"error": _error_code(content), "text": str(content.get("text") or ""), "redacted": redacted}


# type -> (template name, what the template reads). Each name is a file templates/batches/blocks/<name>.html.
KNOWN: dict[str, tuple[str, Callable[[_Block], dict[str, Any]]]] = {
    "text": ("text", _text),
    "thinking": ("thinking", _thinking),
    "redacted_thinking": ("redacted_thinking", _redacted),
    "tool_use": ("tool_use", _tool_use),
    "server_tool_use": ("tool_use", _tool_use),
    "mcp_tool_use": ("tool_use", _tool_use),
    "web_search_tool_result": ("web_search_tool_result", _web_search),
    "web_fetch_tool_result": ("web_fetch_tool_result", _web_fetch),
    "code_execution_tool_result": ("code_execution_tool_result", _code_execution),
    "bash_code_execution_tool_result": ("code_execution_tool_result", _code_execution),
    "text_editor_code_execution_tool_result": ("text_editor_code_execution_tool_result", _text_editor),
    "tool_search_tool_result": ("tool_search_tool_result", _tool_search),
    "container_upload": ("container_upload", _container_upload),
    "mcp_tool_result": ("mcp_tool_result", _mcp_result),
    "mcp_tool_listing": ("mcp_tool_listing", _mcp_listing),
    "compaction": ("compaction", _compaction),
    "fallback": ("fallback", _fallback),
    "advisor_tool_result": ("advisor_tool_result", _advisor),
}

# What each kind of block is called on the page.
LABELS = {
    "tool_use": "Tool use", "server_tool_use": "Server tool use", "mcp_tool_use": "MCP tool use",
    "bash_code_execution_tool_result": "Bash execution result", "code_execution_tool_result": "Code execution result",
}  # fmt: skip


def present(content: Any) -> list[dict[str, Any]]:
    """Each block of a message's `content`, in order, with the template that shows it."""
    shown = []
    for index, block in enumerate(content if isinstance(content, list) else []):
        kind = str(block.get("type", "")) if isinstance(block, dict) else ""
        entry: dict[str, Any] = {"index": index + 1, "type": kind, "json": _pretty(block)}
        template, read = KNOWN.get(kind, ("unknown", None))
        entry["template"] = f"batches/blocks/{template}.html"
        entry["label"] = LABELS.get(kind, kind.replace("_", " ").capitalize() or "Block")
        if read is not None:
            try:
                entry.update(read(block))
            except (AttributeError, TypeError, ValueError):
                # A known type in a shape we did not expect: shown as its JSON rather than half-read.
                entry["template"] = "batches/blocks/unknown.html"
        shown.append(entry)
    return shown


def container(message: Any) -> dict[str, Any] | None:
    """The message's `container` (code execution): its id, when it expires and the skills loaded."""
    value = message.get("container") if isinstance(message, dict) else None
    if not isinstance(value, dict):
        return None
    skills = [str(s.get("skill_id") or s.get("name") or "") for s in value.get("skills") or [] if isinstance(s, dict)]
    return {"id": str(value.get("id", "")), "expires_at": str(value.get("expires_at") or ""), "skills": skills}
