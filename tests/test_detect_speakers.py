"""The saved voice profile: a voice print is personal data, so only its owner may read the file."""

from __future__ import annotations

import os
import stat

from voicecoach.detect.speakers import DIM, PartnerVoice, VoiceProfile


def _profile() -> VoiceProfile:
    return VoiceProfile({"A": PartnerVoice([0.1] * DIM, -30.0, 120.0, -12.0),
                         "B": PartnerVoice([0.5] * DIM, -34.0, 220.0, -8.0)})


def test_a_saved_profile_is_owner_only_and_reads_back(tmp_path):
    path = tmp_path / "profile.json"
    old = os.umask(0o022)   # the usual umask would leave a plain write readable by everyone
    try:
        _profile().save(path)
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert VoiceProfile.load(path) == _profile()


def test_saving_over_a_readable_profile_makes_it_owner_only(tmp_path):
    path = tmp_path / "profile.json"
    path.write_text("{}", encoding="utf-8")
    path.chmod(0o644)
    _profile().save(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert VoiceProfile.load(path) == _profile()
