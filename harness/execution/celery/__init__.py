"""The Celery executor: a case's fetches as tasks on Celery prefork workers, here or elsewhere.

``app`` is the Celery application (JSON only) both sides load; ``task`` is what a prefork child
runs; ``node`` is ``memharness worker`` (a supervised ``celery worker`` with a sampler and a
cap); ``broker`` launches or checks the broker; ``deliveries`` counts task starts from Celery's
events; ``executor`` is the coordinating side that ``memharness run --executor celery`` uses.
"""
