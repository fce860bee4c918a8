"""Grouping is a pure function of the event: the same bug lands in one issue whatever
changes between builds and runs (line numbers, addresses, generated names, bundle hashes,
the numbers in a message), and different bugs land apart."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from watchkeeper.errortrack import grouping
from watchkeeper.errortrack.grouping import (
    file_key,
    group_hash,
    is_in_app,
    normalise_function,
    parameterise,
)


def frame(function: str, module: str | None = "shop.cart", **more: Any) -> dict[str, Any]:
    return {"function": function, "module": module, **more}


def exception(kind: str, value: str, *frames: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = {"type": kind, "value": value}
    if frames:
        found["stacktrace"] = {"frames": list(frames)}
    return found


def error(*values: dict[str, Any], **more: Any) -> dict[str, Any]:
    return {"exception": {"values": list(values)}, **more}


APP = frame("total", lineno=10, in_app=True)
LIBRARY = frame("execute", module="sqlalchemy.engine", lineno=1200, in_app=False)


def test_line_numbers_and_the_value_do_not_make_another_issue() -> None:
    first = error(exception("ValueError", "price -3", LIBRARY, APP))
    second = copy.deepcopy(first)
    second["exception"]["values"][0]["value"] = "price -7"
    second["exception"]["values"][0]["stacktrace"]["frames"][1]["lineno"] = 42

    assert group_hash(first) == group_hash(second)


def test_another_function_or_type_is_another_issue() -> None:
    base = error(exception("ValueError", "x", APP))

    assert group_hash(base) != group_hash(error(exception("ValueError", "x", frame("refund"))))
    assert group_hash(base) != group_hash(error(exception("KeyError", "x", APP)))


def test_library_frames_do_not_count_when_the_application_has_frames() -> None:
    one = error(exception("ValueError", "x", LIBRARY, APP))
    path = "/srv/venv/lib/python3.12/site-packages/sqlalchemy/new.py"  # in_app unset: judged
    upgraded = error(
        exception("ValueError", "x", frame("run", module="sqlalchemy.new", abs_path=path), APP)
    )

    assert group_hash(one) == group_hash(upgraded)


def test_without_application_frames_every_frame_counts() -> None:
    one = error(exception("TimeoutError", "x", LIBRARY))
    other = error(exception("TimeoutError", "x", frame("connect", module="redis.client")))

    assert group_hash(one) != group_hash(other)


def test_every_exception_of_the_chain_counts() -> None:
    wrapped = exception("RuntimeError", "failed", APP)
    from_value = error(exception("ValueError", "a", frame("parse", in_app=True)), wrapped)
    from_key = error(exception("KeyError", "a", frame("parse", in_app=True)), wrapped)

    assert group_hash(from_value) != group_hash(from_key)
    assert grouping.title(from_value) == "RuntimeError: failed"


def test_in_app_unset_is_judged_from_the_path() -> None:
    library_paths = [
        "/srv/venv/lib/python3.12/site-packages/requests/api.py",
        "/usr/lib/python3/dist-packages/yaml/__init__.py",
        "/usr/lib/python3.11/json/decoder.py",
        "<frozen importlib._bootstrap>",
        "/app/node_modules/express/lib/router/index.js",
        "node:internal/process/task_queues",
        "chrome-extension://abcdef/content.js",
    ]
    for path in library_paths:
        assert not is_in_app({"abs_path": path}), path
    for path in ("/srv/shop/cart.py", "https://shop.example.com/static/js/main.3f9a1c2e.js"):
        assert is_in_app({"abs_path": path}), path
    assert not is_in_app({"abs_path": "/srv/shop/cart.py", "in_app": False}), "the SDK decides"


def test_a_message_groups_by_its_parameterised_text() -> None:
    def message(text: str) -> dict[str, Any]:
        return {"message": text}

    same = [
        message(
            "order 1234 for ann@example.com failed from 10.0.0.7 "
            "(id 5f0c0a3e-8c1b-4c1e-9d7e-0123456789ab)"
        ),
        message(
            "order 98 for bob@example.org failed from 192.168.1.20 "
            "(id 0b9d2a1c-7a4f-4a3b-8e2f-abcdefabcdef)"
        ),
    ]
    assert group_hash(same[0]) == group_hash(same[1])
    assert group_hash(message("refund 12 failed")) != group_hash(same[0])
    assert parameterise("took 0x7ffde3 at 3.5s") == "took <hex> at <int>s"


def test_a_log_template_is_used_when_the_sdk_sends_one() -> None:
    one = {"logentry": {"message": "user %s left", "params": ["ann"], "formatted": "user ann left"}}
    two = {"logentry": {"message": "user %s left", "params": ["bob"], "formatted": "user bob left"}}

    assert group_hash(one) == group_hash(two)
    assert grouping.title(two) == "user bob left"


def test_a_stack_trace_without_an_exception_groups_by_its_frames() -> None:
    here = {
        "message": "slow query 1",
        "threads": {"values": [{"current": True, "stacktrace": {"frames": [APP]}}]},
    }
    there = {
        "message": "slow query 2",
        "threads": {
            "values": [{"current": True, "stacktrace": {"frames": [frame("refund", in_app=True)]}}]
        },
    }

    assert group_hash(here) != group_hash(there)
    assert group_hash(here) == group_hash({**here, "message": "another text"})


def test_a_client_fingerprint_replaces_or_extends_the_default() -> None:
    base = error(exception("ValueError", "x", APP))

    assert group_hash({**base, "fingerprint": ["{{ default }}"]}) == group_hash(base)
    assert group_hash({**base, "fingerprint": ["{{default}}", "acme"]}) != group_hash(
        {**base, "fingerprint": ["{{ default }}", "globex"]}
    )
    assert group_hash({**base, "fingerprint": ["payments"]}) == group_hash(
        error(exception("KeyError", "y", frame("other")), fingerprint=["payments"])
    )
    assert group_hash({**base, "fingerprint": ["{{ type }}"]}) == group_hash(
        error(exception("ValueError", "z", frame("other")), fingerprint=["{{ type }}"])
    )


def test_recursion_counts_once() -> None:
    deep = error(exception("RecursionError", "x", *[frame("walk", in_app=True)] * 900))
    shallow = error(exception("RecursionError", "x", *[frame("walk", in_app=True)] * 3))

    assert group_hash(deep) == group_hash(shallow)


def test_javascript_stacks_without_source_maps() -> None:
    def js(bundle: str, function: str, line: int) -> dict[str, Any]:
        return error(
            exception(
                "TypeError",
                "Cannot read properties of undefined",
                {
                    "filename": f"https://cdn.example.com/static/js/{bundle}?v=3",
                    "function": function,
                    "lineno": line,
                    "colno": 17,
                },
            ),
            platform="javascript",
        )

    before = js("main.3f9a1c2e.chunk.js", "async onClick", 1)
    after_deploy = js("main.77b01c9d.chunk.js", "onClick", 1)
    assert group_hash(before) == group_hash(after_deploy)
    assert group_hash(before) != group_hash(js("main.3f9a1c2e.chunk.js", "onSubmit", 1))
    assert file_key("https://cdn.example.com/assets/app-5d41402abc4b2a76.js#x") == "app.js"
    assert grouping.culprit(before) == "main.chunk.js in async onClick"


@given(st.integers(min_value=0, max_value=2**63), st.integers(min_value=0, max_value=2**63))
def test_numbers_never_split_a_message(a: int, b: int) -> None:
    assert parameterise(f"retry {a} of job {b} failed") == parameterise("retry 1 of job 2 failed")


@given(st.integers(min_value=0, max_value=2**64 - 1), st.integers(min_value=0, max_value=10**6))
def test_addresses_and_generated_ids_never_split_a_function(address: int, n: int) -> None:
    assert normalise_function(f"handler at 0x{address:x}") == normalise_function("handler at 0x1")
    assert normalise_function(f"lambda${n}") == normalise_function("lambda$0")
    assert normalise_function(f"__lambda_{n}") == "__lambda_"
    assert normalise_function(f"render::h{address:016x}") == "render"


@given(st.text(max_size=300))
def test_any_text_as_a_function_or_file_gives_a_key(text: str) -> None:
    assert isinstance(normalise_function(text), str)
    assert isinstance(file_key(text), str)
    assert isinstance(parameterise(text), str)


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=20),
        lambda children: (
            st.lists(children, max_size=4)
            | st.dictionaries(st.text(max_size=8), children, max_size=4)
        ),
        max_leaves=30,
    )
)
def test_any_shape_of_event_groups_without_raising(value: Any) -> None:
    for event in (
        {"exception": value},
        {"exception": {"values": value}},
        {"exception": {"values": [{"type": "E", "stacktrace": value}]}},
        {"message": value, "logentry": value, "fingerprint": value, "threads": value},
    ):
        assert len(group_hash(event)) == 32
        assert isinstance(grouping.title(event), str)
