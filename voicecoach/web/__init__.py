"""The kiosk's own page on the home network (``voicecoach web``, or the kiosk with ``[web] enabled = true``).

Flask (imported only when the page is started) behind waitress, both pure Python. Modules: ``settings`` ([web]),
``security`` (pairing code, sessions, CSRF, rate limits), ``schedule`` (the Rituals form, validated like the
config file and written atomically), ``status`` (the Now page's typed status), ``app`` (routes and pages),
``runtime`` (the server thread).
"""
