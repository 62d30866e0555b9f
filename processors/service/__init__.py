"""The app level: the Faust app, its topics and agent, the batch handler and its steps, the
worker, the HTTP API and the metrics. It wires enrich/, store/ and streams/ together.
"""
