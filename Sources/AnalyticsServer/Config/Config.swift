// Config: the server's settings.
//
// Every setting is a row of `SettingsTable` (variable, default, parser with
// its range, meaning). That one table drives reading the environment and
// the `.env` file, the --help text, the start-up log of effective values
// and the table in docs/settings.md. A value that does not parse stops the server
// with a one-line `ConfigError`; nothing falls back to a default silently.
// This folder calls nothing else in the server.
