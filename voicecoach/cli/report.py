"""``voicecoach report``: weekly trends from the private journal (terminal, SVG, HTML; PNG with the extra)."""

from __future__ import annotations

import argparse
from datetime import datetime

from . import check_output_option, config_of, print_out

ORDER = 65


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add the ``report`` subcommand."""
    p = sub.add_parser("report", parents=[common], help="weekly trends from the journal: summary, chart, page")
    p.add_argument("--since", default="12w", metavar="WHEN",
                   help="start of the period: 30d, 12w or a date like 2026-01-01 (default: 12w)")
    p.add_argument("--html", metavar="FILE", help="also write a single self-contained HTML page with the charts")
    p.add_argument("--svg", metavar="FILE", help="also draw the weekly charts into FILE as SVG")
    p.add_argument("--png", metavar="FILE",
                   help="also draw the weekly charts into FILE as PNG (needs the 'report' extra: matplotlib)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print the summary; write the chart and page when asked."""
    from ..journal import report as rep
    from ..journal.files import offline_use, path_for, present
    from ..journal.store import Journal

    config = config_of(args)
    now = datetime.now().astimezone()  # the CLI edge: the report library itself is given the time
    since = rep.parse_since(args.since, now)
    for option, out, suffix in (("--svg", args.svg, ".svg"), ("--html", args.html, ".html"),
                                ("--png", args.png, ".png")):
        check_output_option(out, option, suffix, f"trends{suffix}")  # before the summary: one line, exit 2
    if args.png:  # without the 'report' extra: one line naming it, exit 1, before the summary or any file
        from ..journal.chart_png import require

        require()
    path = path_for(config.journal.file)
    with offline_use():  # "talks are not recorded until then" is for a live talk, not said here
        if present(path):  # a symbolic link leading nowhere is refused, not reported as an empty journal
            with Journal.open_for_reading(path) as journal:  # summed by SQLite's queries, a chunk of rows at a time
                report = rep.build_report(journal.report_rows(), since, now)
        else:
            report = rep.build_report({}, since, now)
    names = (config.partners.a_name, config.partners.b_name)
    print_out(rep.summary_text(report, *names), end="")
    if report.empty and not config.journal.enabled:  # the summary's "will show up here" would not come true
        print_out("The journal is off ([journal] enabled = false), so nothing is stored: set it to true to see your "
              "weeks here.")
    if report.empty:
        if args.png or args.html or args.svg:
            print_out("(No chart was written: there is nothing to draw yet.)")
        return 0
    if args.svg:
        bins = rep.write_svg(report, args.svg, *names)
        print_out(f"Chart of {bins} weeks written to {args.svg}")
    if args.html:
        rep.write_html(report, args.html, *names)
        print_out(f"Report page written to {args.html} (one file; open it in any browser, it works offline)")
    if args.png:
        bins = rep.write_png(report, args.png, *names)
        print_out(f"Chart of {bins} weeks written to {args.png}")
    return 0
