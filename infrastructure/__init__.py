"""dtbase on Azure: a Pulumi (azure-native) program. Run `pulumi up` in this folder."""
