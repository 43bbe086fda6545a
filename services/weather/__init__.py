"""OpenWeatherMap ingress."""
