"""The hostscore service: a REST API over the scorer library, its storage and its job queue.

Arrows point one way: routes -> services -> db / jobs -> scorer. See README "The service".
"""
