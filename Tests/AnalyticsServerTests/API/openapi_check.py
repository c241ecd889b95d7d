#!/usr/bin/env python3
"""Checks recorded API exchanges against the OpenAPI 3.1 document.

    openapi_check.py DOCUMENT EXCHANGES

EXCHANGES is a JSON array of {"method", "path" (the documented template),
"status", "content_type", "body"}. Every response must be documented for
its path, method and status, be application/json, and validate against the
schema (JSON Schema 2020-12, which OpenAPI 3.1 schemas are). Every
documented operation must have been exercised at least once. Prints one
line per problem; exits 1 if there was any.
"""
import json, sys
from jsonschema import Draft202012Validator


def resolve(node, document):
    """Inlines local $refs, so any jsonschema version validates alone."""
    if isinstance(node, dict):
        if "$ref" in node:
            target = document
            for part in node["$ref"].lstrip("#/").split("/"):
                target = target[part]
            return resolve(target, document)
        return {key: resolve(value, document) for key, value in node.items()}
    if isinstance(node, list):
        return [resolve(item, document) for item in node]
    return node


def main():
    document = json.load(open(sys.argv[1]))
    exchanges = json.load(open(sys.argv[2]))
    problems = []
    seen = set()
    for exchange in exchanges:
        where = f'{exchange["method"]} {exchange["path"]} -> {exchange["status"]}'
        operation = document["paths"].get(exchange["path"], {}).get(exchange["method"].lower())
        if operation is None:
            problems.append(f"{where}: operation not documented")
            continue
        seen.add((exchange["path"], exchange["method"].lower()))
        response = operation["responses"].get(str(exchange["status"]))
        if response is None:
            problems.append(f"{where}: status not documented")
            continue
        response = resolve(response, document)
        if exchange["content_type"] != "application/json":
            problems.append(f'{where}: Content-Type {exchange["content_type"]!r}')
            continue
        schema = response["content"]["application/json"]["schema"]
        Draft202012Validator.check_schema(schema)
        try:
            body = json.loads(exchange["body"])
        except ValueError as error:
            problems.append(f"{where}: body is not JSON ({error})")
            continue
        for error in Draft202012Validator(schema).iter_errors(body):
            problems.append(f"{where}: {error.message} at {list(error.absolute_path)}")
    for path, operations in document["paths"].items():
        for method in operations:
            if (path, method) not in seen:
                problems.append(f"{method.upper()} {path}: documented but never exercised")
    for problem in problems:
        print(problem)
    print(f"{len(exchanges)} exchanges checked, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
