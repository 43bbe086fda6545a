"""Multi-seasonal ARIMA forecasting (statsmodels; the optional extra `arima`)."""
