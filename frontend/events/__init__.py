"""Events in the browser: the live stream relayed from the backend, and the page that
manages webhook subscriptions."""
