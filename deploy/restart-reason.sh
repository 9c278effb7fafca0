# Sourced by scripts/install-kiosk (and its tests): why a running kiosk service should be restarted.
#
# restart_reason SINCE REPO CONFIG prints "<file> changed since it started" for the first file the service runs or
# reads at its start (the checkout's code, its packages' set-up stamp, the settings file) modified after SINCE (the
# service's start, seconds since the epoch), or nothing. A byte-code cache or a file the service does not read
# (README, docs) is no reason: a restart ends a check-in under way, so it is done only when it changes something.
restart_reason() {
    local since="$1" repo="$2" config="$3" newer
    newer="$(find "$repo/voicecoach" "$repo/pyproject.toml" "$repo/.venv/.voicecoach-setup" "$config" \
                  -name __pycache__ -prune -o -type f -newermt "@$since" -print -quit 2>/dev/null || true)"
    if [[ -n "$newer" ]]; then
        printf '%s changed since it started\n' "${newer#"$repo"/}"
    fi
}
