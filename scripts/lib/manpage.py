#!/usr/bin/env python3
"""Writes the man page (roff, section 1) of a swift-argument-parser command.

    manpage.py EXECUTABLE > NAME.1

Reads `EXECUTABLE --experimental-dump-help` (the parser's own description
of the command, its subcommands and options) and `EXECUTABLE --version`.
The root command's discussion becomes DESCRIPTION; its indented
"  NAME (default: VALUE)" entries (tetcore-analytics lists every setting so)
become ENVIRONMENT. No date is written, so the page is the same for the same
build. Standard library only.
"""
import json
import re
import subprocess
import sys


def roff(text):
    """Escapes text for a roff body line."""
    text = text.replace("\\", "\\e").replace("-", "\\-")
    return "\\&" + text if text[:1] in (".", "'") else text


def option_synopsis(argument):
    """`--name <value>` / `-h, --help` for one argument of the dump."""
    names = []
    for name in argument.get("names", []):
        names.append(("-" if name["kind"] == "short" else "--") + name["name"])
    if argument["kind"] == "positional":
        return "<" + argument.get("valueName", "value") + ">"
    value = " <" + argument.get("valueName", "value") + ">" if argument["kind"] == "option" else ""
    return ", ".join("\\fB" + roff(name) + "\\fR" for name in names) + roff(value)


def options(arguments):
    lines = []
    for argument in arguments or []:
        if not argument.get("shouldDisplay", True):
            continue
        lines += [".TP", option_synopsis(argument), roff(argument.get("abstract", ""))]
    return lines


def split_discussion(text):
    """(prose paragraphs, [(variable, default, explanation)])."""
    prose, settings = [], []
    entry = re.compile(r"^  ([A-Z][A-Z0-9_]*) \(default: (.*)\)$")
    for line in text.splitlines():
        match = entry.match(line)
        if match:
            settings.append([match.group(1), match.group(2), ""])
        elif settings and line.startswith("      "):
            settings[-1][2] = (settings[-1][2] + " " + line.strip()).strip()
        elif not settings:
            prose.append(line)
    paragraphs = [p.strip() for p in "\n".join(prose).split("\n\n") if p.strip()]
    return paragraphs, settings


def main():
    executable = sys.argv[1]
    dump = json.loads(subprocess.run([executable, "--experimental-dump-help"], check=True,
                                     capture_output=True, text=True).stdout)["command"]
    version = subprocess.run([executable, "--version"], check=True, capture_output=True, text=True).stdout.strip()
    name = dump["commandName"]
    subcommands = [c for c in dump.get("subcommands", []) if c.get("shouldDisplay", True) and c["commandName"] != "help"]
    paragraphs, settings = split_discussion(dump.get("discussion", ""))

    out = [
        f'.TH {roff(name.upper())} 1 "" "{roff(name)} {roff(version)}" "User Commands"',
        ".SH NAME",
        f"{roff(name)} \\- {roff(dump.get('abstract', ''))}",
        ".SH SYNOPSIS",
    ]
    for command in subcommands or [dump]:
        sub = "" if command is dump else " " + command["commandName"]
        out.append(f"\\fB{roff(name + sub)}\\fR [\\fIoptions\\fR]")
        out.append(".br")
    out.append(".SH DESCRIPTION")
    for paragraph in paragraphs:
        out += [roff(" ".join(paragraph.split())), ".PP"]
    if out[-1] == ".PP":
        out.pop()
    if subcommands:
        out.append(".SH COMMANDS")
        for command in subcommands:
            text = " ".join((command.get("abstract", "") + " " + command.get("discussion", "")).split())
            out += [".TP", f"\\fB{roff(command['commandName'])}\\fR", roff(text)]
            # --help and --version belong to every command: listed once, under OPTIONS.
            sub_options = [a for a in command.get("arguments", []) if a.get("shouldDisplay", True)
                           and a.get("preferredName", {}).get("name") not in ("help", "version")]
            if sub_options:
                out += [".RS"] + options(sub_options) + [".RE"]
    out.append(".SH OPTIONS")
    out += options(dump.get("arguments"))
    if settings:
        out += [".SH ENVIRONMENT",
                "Each setting is read from the environment or from \\fI.env\\fR in the working directory; "
                "the environment wins. A value that does not parse stops the program with exit status 2."]
        for variable, default, explanation in settings:
            out += [".TP", f"\\fB{roff(variable)}\\fR (default: {roff(default)})", roff(explanation)]
    out += [".SH EXIT STATUS",
            "0 when the command did all it should (for \\fBserve\\fR: stopped by SIGINT or SIGTERM with every "
            "buffered row written), 1 when it failed, 2 for a bad setting, 64 for a command line it does not accept."]
    sys.stdout.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
