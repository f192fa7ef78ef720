"""Device clients: HomeWizard P1 meter and Indevolt battery inverter (no Home Assistant imports).

`p1.P1Client` and `indevolt.IndevoltClient` talk HTTP through an injected aiohttp session and
raise only the errors of `errors`.
"""
