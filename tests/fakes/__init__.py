"""Local fakes of paid providers that speak their real API contract (design decision 4).

Used by the tests and by benchmarks/sms_throughput.py.
"""
