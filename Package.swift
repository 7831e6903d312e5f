// swift-tools-version: 6.0
// DanceGRPO in Swift. The tensor engine is MLX's C++ library (see ../shared/docs/engine.md); `make` installs it
// under .deps/ (scripts/setup-deps.sh), and this manifest only knows the stable link `.deps/mlx`.
import Foundation
import PackageDescription

let root = Context.packageDirectory
// libmlx finds its bundled libraries through RPATH $ORIGIN/../../<wheel>.libs, so the runtime path must be the
// real, versioned folder rather than the link.
let mlxRoot = URL(fileURLWithPath: "\(root)/.deps/mlx").resolvingSymlinksInPath().path

// Every Swift target sees the engine's C++ types through the shim module, so every one needs C++ interop.
let cxx: [SwiftSetting] = [.interoperabilityMode(.Cxx)]

let package = Package(
    name: "DanceGRPO",
    products: [
        .library(name: "Engine", targets: ["Engine"]),
        .library(name: "Checkpoints", targets: ["Checkpoints"]),
        .library(name: "NN", targets: ["NN"]),
        .library(name: "Tokenizers", targets: ["Tokenizers"]),
        .library(name: "Rewards", targets: ["Rewards"]),
        .executable(name: "dancegrpo", targets: ["dancegrpo"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.1")
    ],
    targets: [
        // Engine binding: the only C++ in the package, and the only targets that name MLX.
        .target(
            name: "CMLXShim",
            cxxSettings: [.unsafeFlags(["-O2"])],
            linkerSettings: [
                // OpenBLAS first, kept even though nothing references it directly: the dynamic linker then resolves
                // libmlx's cblas_sgemm to OpenBLAS instead of the wheel's reference BLAS (30x slower).
                .unsafeFlags([
                    "-Xlinker", "--no-as-needed", "-lopenblas",
                    "-L\(mlxRoot)/lib", "-lmlx",
                    "-Xlinker", "-rpath", "-Xlinker", "\(mlxRoot)/lib"
                ])
            ]),
        .target(name: "Engine", dependencies: ["CMLXShim"], swiftSettings: cxx),
        // Checkpoint formats over the binding: safetensors (single and sharded), the restricted torch unpickler,
        // config files, atomic writes.
        .target(name: "Checkpoints", dependencies: ["Engine"], swiftSettings: cxx),
        // Neural-network layer over the engine.
        .target(name: "NN", dependencies: ["Engine", "Checkpoints"], swiftSettings: cxx),
        // The sampling processes GRPO treats as MDPs: flow-matching schedules and SDE steps, DDIM, with
        // log-probabilities.
        .target(name: "Sampling", dependencies: ["Engine", "Checkpoints"], swiftSettings: cxx),
        // Model-agnostic RL math: rollout, advantages, policy loss (arrays in, arrays out).
        .target(name: "GRPO", dependencies: ["Engine", "NN", "Sampling", "Checkpoints"], swiftSettings: cxx),
        // Model families (Flux/, …), each a config struct and modules whose keys are the diffusers/transformers keys.
        .target(
            name: "Models", dependencies: ["NN", "Engine", "Checkpoints", "Sampling", "Tokenizers"],
            swiftSettings: cxx),
        // The Reward protocol (samples and prompts in, scores and metrics out), the catalog and `name[:weight]` lists,
        // DDPO's JPEG rewards and the reward models (HPS-v2.1, PickScore, CLIP score, LAION aesthetic).
        .target(
            name: "Rewards", dependencies: ["Models", "NN", "Engine", "Checkpoints", "Tokenizers", "Imaging", "Video"],
            swiftSettings: cxx),
        // Text tokenizers (no engine; gzip through zlib; open_clip's BPE vocabulary and the generated HTML entity list
        // as resources).
        .target(name: "Tokenizers", dependencies: ["ZlibStream"], resources: [.copy("Resources")]),
        // Images: RGB buffers, PNG and JPEG through libpng and libjpeg, grids (no engine).
        .target(name: "Imaging", dependencies: ["CZlib", "ZlibStream", "CImageCodecs"]),
        // zlib's inflate over a whole buffer, for zlib streams (Imaging) and gzip files (Tokenizers).
        .target(name: "ZlibStream", dependencies: ["CZlib"]),
        // The system codec libraries (scripts/setup-deps.sh installs them), and C glue that keeps libpng's and
        // libjpeg's longjmp error handling out of Swift frames.
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CPNG", pkgConfig: "libpng", providers: [.apt(["libpng-dev"]), .brew(["libpng"])]),
        .systemLibrary(
            name: "CJPEG", pkgConfig: "libjpeg",
            providers: [.apt(["libjpeg62-turbo-dev"]), .brew(["jpeg-turbo"])]),
        .target(name: "CImageCodecs", dependencies: ["CPNG", "CJPEG"]),
        // Video files: FFmpeg's libraries (libavformat's pkg-config gives the include path the four share), C glue
        // that keeps FFmpeg's types out of Swift, and the MP4 writer and any-format reader over RGB frames.
        .systemLibrary(
            name: "CFFmpeg", pkgConfig: "libavformat",
            providers: [
                .apt(["libavformat-dev", "libavcodec-dev", "libavutil-dev", "libswscale-dev"]), .brew(["ffmpeg"])
            ]),
        // pkg-config names only libavformat's own library, and the C sources include the headers without importing
        // the module that would autolink the rest, so they are named here.
        .target(
            name: "CVideoCodecs", dependencies: ["CFFmpeg"],
            linkerSettings: ["avformat", "avcodec", "swscale", "avutil"].map { .linkedLibrary($0) }),
        .target(name: "Video", dependencies: ["Imaging", "CVideoCodecs"]),
        // The embedded default world: compositional prompts, a procedural renderer and a rule-based scorer.
        .target(name: "ShapesWorld", dependencies: ["Imaging", "SeededRandom"]),
        // SplitMix64 with its own integer and float draws, the same on every platform and toolchain (pure Swift).
        .target(name: "SeededRandom"),
        // Training logs readable by standard tools (TensorBoard event files).
        .target(name: "TrainingLogs", dependencies: ["Imaging"]),
        // The trainer: one GRPO loop over any model family (a TrainingTask) with its observers, evaluation,
        // checkpoints, run logs, settings (presets, config files, DanceGRPO's argument names), and the tasks of
        // checkpoint families (FLUX, Stable Diffusion). It knows no world: rewards come as `any Reward`.
        .target(
            name: "Training",
            dependencies: [
                "Models", "NN", "Engine", "Checkpoints", "GRPO", "Sampling", "Imaging", "Rewards",
                "TrainingLogs", "SeededRandom", "Video", .product(name: "Yams", package: "Yams")
            ],
            swiftSettings: cxx),
        // The embedded default: tiny FLUX- and UNet-architecture text-to-image models of the shapes world, their
        // pretraining.
        .target(
            name: "EmbeddedWorld",
            dependencies: [
                "Models", "NN", "Engine", "Checkpoints", "GRPO", "Sampling", "ShapesWorld", "Imaging", "Rewards",
                "Training"
            ],
            swiftSettings: cxx),
        // Command line.
        .executableTarget(
            name: "dancegrpo",
            dependencies: [
                "Engine", "Checkpoints", "NN", "Models", "Sampling", "GRPO", "Tokenizers", "Imaging", "ShapesWorld",
                "EmbeddedWorld", "Training", "TrainingLogs", "Video",
                "Rewards", .product(name: "ArgumentParser", package: "swift-argument-parser")
            ],
            swiftSettings: cxx),
        // The parsers of untrusted files as fuzz targets (one function of an input's bytes each), shared by the
        // libFuzzer harness and the regression tests.
        .target(
            name: "FuzzTargets", dependencies: ["Checkpoints", "Engine", "Tokenizers", "Imaging", "Models"],
            swiftSettings: cxx),
        // The libFuzzer harness (`make fuzz`, scripts/fuzz.sh builds it with -sanitize=fuzzer,address into
        // .build-fuzz); the normal build links it too, as a replayer of inputs without libFuzzer.
        .executableTarget(
            name: "dancegrpo-fuzz", dependencies: ["FuzzTargets", "Checkpoints"], path: "Sources/DanceGRPOFuzz",
            swiftSettings: cxx),
        // Benchmarks (`make bench`; never run by the tests).
        .executableTarget(
            name: "dancegrpo-bench",
            dependencies: [
                "Engine", "Checkpoints", "NN", "Models", "Sampling", "GRPO", "Rewards", "Imaging", "Tokenizers"
            ], path: "Benchmarks/dancegrpo-bench",
            swiftSettings: cxx),
        // Tests
        .target(
            name: "TestSupport", dependencies: ["Engine", "Checkpoints"], path: "Tests/TestSupport",
            resources: [.copy("Fixtures")], swiftSettings: cxx),
        .testTarget(name: "EngineTests", dependencies: ["Engine", "Checkpoints", "TestSupport"], swiftSettings: cxx),
        .testTarget(
            name: "CheckpointsTests", dependencies: ["Checkpoints", "Engine", "TestSupport"], swiftSettings: cxx),
        .testTarget(name: "NNTests", dependencies: ["Checkpoints", "NN", "Engine", "TestSupport"], swiftSettings: cxx),
        .testTarget(
            name: "SamplingTests", dependencies: ["Checkpoints", "Sampling", "TestSupport"], swiftSettings: cxx),
        .testTarget(
            name: "GRPOTests",
            dependencies: ["Checkpoints", "GRPO", "Sampling", "NN", "Engine", "Models", "TestSupport"],
            swiftSettings: cxx),
        .testTarget(name: "TokenizersTests", dependencies: ["Tokenizers", "TestSupport"], swiftSettings: cxx),
        .testTarget(
            name: "ModelsTests",
            dependencies: ["Checkpoints", "Models", "NN", "Engine", "Sampling", "Tokenizers", "TestSupport"],
            swiftSettings: cxx),
        .testTarget(
            name: "RewardsTests",
            dependencies: [
                "Checkpoints", "Rewards", "Models", "NN", "Engine", "Tokenizers", "Imaging", "Video", "TestSupport"
            ],
            swiftSettings: cxx),
        .testTarget(name: "ImagingTests", dependencies: ["Imaging", "TestSupport"], swiftSettings: cxx),
        .testTarget(name: "VideoTests", dependencies: ["Video", "Imaging", "TestSupport"], swiftSettings: cxx),
        // Every committed fuzz input (seeds and regressions, Tests/Fuzz) through its parser, without the sanitizers.
        .testTarget(
            name: "FuzzRegressionTests", dependencies: ["FuzzTargets", "Checkpoints"],
            path: "Tests/Fuzz/RegressionTests",
            swiftSettings: cxx),
        .testTarget(
            name: "EmbeddedWorldTests",
            dependencies: [
                "Checkpoints", "EmbeddedWorld", "Training", "Rewards", "Models", "GRPO", "Sampling", "ShapesWorld",
                "Imaging", "NN", "Engine", "TestSupport"
            ], swiftSettings: cxx),
        .testTarget(
            name: "TrainingTests",
            dependencies: [
                "Checkpoints", "Training", "GRPO", "Sampling", "Models", "NN", "Engine", "Imaging", "TestSupport"
            ], swiftSettings: cxx),
        .testTarget(name: "TrainingLogsTests", dependencies: ["TrainingLogs", "TestSupport"], swiftSettings: cxx),
        // The command line as users run it: the built `dancegrpo` executable in child processes.
        .testTarget(
            name: "CommandLineTests", dependencies: ["Checkpoints", "Engine", "Imaging", "Video", "TestSupport"],
            swiftSettings: cxx),
        .testTarget(
            name: "ShapesWorldTests", dependencies: ["ShapesWorld", "Imaging", "TestSupport"], swiftSettings: cxx)
    ],
    cxxLanguageStandard: .cxx20
)
