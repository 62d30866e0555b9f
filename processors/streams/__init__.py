"""Tag streams (news.tag.<tag>): routing (pure), the one producer interface (ports.py) and its
two producers (produce.py), subscribing (subscribe.py) and Server-Sent Events (sse.py).
"""
