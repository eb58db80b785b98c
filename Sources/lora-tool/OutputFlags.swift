import ArgumentParser

/// Flags shared by every command that writes a file and prints a report.
struct OutputFlags: ParsableArguments {
    @Flag(help: "Overwrite an existing output (never an input).")
    var force = false

    @Flag(help: "Print the report as JSON on stdout.")
    var json = false
}
