"""dtbase's services: plain handlers (`parameters -> JSON summary`) served by an Azure
Functions app (`services.function_app`) and by a local host (`services.host`)."""
