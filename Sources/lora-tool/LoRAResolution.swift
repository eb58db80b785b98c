import Foundation
import LoRAKit

/// Turns the file part of a `--lora` value into a file through ``LoRALibrary/resolve(_:)``: the path itself
/// when a file exists there, else a name (stem, `sub/stem`, alias or hash prefix) looked up in the LoRA library
/// (`--lora-dir`, else `$LORAKIT_HOME/loras`, else `~/.lorakit/loras`).
/// Prints the reason and exits with status 1 when it resolves to nothing, or to more than one LoRA.
func resolveLoRA(_ nameOrPath: String, loraDir: String?) throws -> LoRAReference {
    let library = LoRALibrary(folder: loraDir.map { URL(fileURLWithPath: $0) })
    do {
        return try library.resolve(nameOrPath)
    } catch let error where OutputPath.isFolder(URL(fileURLWithPath: nameOrPath)) {
        printError("\(nameOrPath) is a folder; a LoRA is one .safetensors file or a library name (lora-tool list DIR shows a folder's LoRAs)", error)
        throw badInputExitCode
    } catch .folderNotFound(let folder) {
        printError("\(nameOrPath): no such file, and no LoRA library folder at \(folder) (give --lora-dir DIR or set LORAKIT_HOME)",
                   LoRALibraryError.folderNotFound(path: folder))
        throw badInputExitCode
    } catch {
        printError("\(nameOrPath): no such file; \(error)", error)
        throw badInputExitCode
    }
}
