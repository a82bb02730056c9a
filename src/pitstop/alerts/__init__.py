"""Vehicle alerts: what a car's signals say its owner should hear about.

`rules` is the policy (pure: a car's observations in, alerts out, with its parameters);
`watcher` is the mechanism (reads live state on the clock, asks the rules, hands alerts to
the notification center under idempotency keys).
"""
