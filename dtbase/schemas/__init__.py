"""The wire contract: request and response models shared by the backend and the client."""
