import Core
import Foundation
import NeRF
import World

/// `csd-bench --nerf`: training and rendering rays per second of the grid radiance field, against
/// the same field in PyTorch (`Tools/bench_nerf_torch.py`) on the same threads, rays and samples.
enum NeRFBench {
    /// A world scene's 32 posed views at 64², as `csd world nerf` renders them.
    static func views() -> [NeRFView] {
        let renderer = WorldRenderer(scene: WorldScene(caption: "a red ball and a yellow cube on grass", seed: 0)!)
        return WorldExports.nerfCameras(views: 32).map { camera in
            let r = renderer.render(camera: camera, width: 64, height: 64)
            let f = camera.focal(width: 64)
            return NeRFView(image: RGBImage(width: 64, height: 64, pixels: r.bytes),
                            camera: NeRFCamera(width: 64, height: 64, focalX: f, focalY: f, centerX: 32, centerY: 32, cameraToWorld: camera.cameraToWorld))
        }
    }

    /// Fits 200 steps at 128³ (past the occupancy grid's warm-up), then times training steps of
    /// 4096 rays and a render of all 32 views; with `python`, runs the peer on the same field.
    static func measure(runs: Int, python: String?, threads: Int, keepIn: String?) throws -> [String: Any] {
        let views = views()
        let contraction = SceneContraction(cameraToWorld: views.map(\.camera.cameraToWorld))
        let rays = 4096
        let trainer = RadianceFieldTrainer(views: views, contraction: contraction, resolutions: [128], totalSteps: 10_000, raysPerStep: rays)
        for _ in 0..<200 { trainer.advance() }
        var trainTimes = [Double]()
        for _ in 0..<max(5, runs) {
            let start = DispatchTime.now().uptimeNanoseconds
            trainer.advance()
            trainTimes.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        }
        let field = trainer.field
        let cameras = views.map(\.camera)
        var renderTimes = [Double]()
        var rendered = Tensor(zeros: [1])
        for _ in 0..<max(1, runs) {
            let start = DispatchTime.now().uptimeNanoseconds
            rendered = field.renderViews(cameras)
            renderTimes.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        }
        let median = { (t: [Double]) in t.sorted()[t.count / 2] }
        let renderRays = cameras.count * 64 * 64
        var result: [String: Any] = ["train_rays_per_s": Double(rays) / median(trainTimes), "render_rays_per_s": Double(renderRays) / median(renderTimes),
                                     "resolution": 128, "rays_per_step": rays, "views": cameras.count, "threads": threads]
        guard let python else { return result }
        let folder = try keepIn ?? ScratchFolder.create(prefix: "csd-bench-nerf")
        if let keepIn { try FileManager.default.createDirectory(atPath: keepIn, withIntermediateDirectories: true) }
        defer { if keepIn == nil { try? FileManager.default.removeItem(atPath: folder) } }
        try field.write(to: "\(folder)/field.safetensors")
        let occupied = (field.occupancy?.occupied ?? []).map { $0 ? Float(1) : 0 }
        try SafetensorsFile.write(["occupancy": Tensor(shape: [occupied.count], storage: occupied)], metadata: [:], to: "\(folder)/occupancy.safetensors")
        // One training batch drawn as the trainer draws one, and every pixel's ray of the views.
        var rng = RandomGenerator(seed: 1)
        var train = (origins: [Float](), directions: [Float](), jitter: [Float](), targets: [Float]())
        for _ in 0..<rays {
            let v = Int(rng.next() % UInt64(views.count)), p = Int(rng.next() % 4096)
            let ray = views[v].camera.ray(x: p % 64, y: p / 64)
            train.origins += [ray.origin.x, ray.origin.y, ray.origin.z]
            train.directions += [ray.direction.x, ray.direction.y, ray.direction.z]
            train.jitter.append(Float(rng.uniform()))
            train.targets += (0..<3).map { Float(views[v].image.pixels[p * 3 + $0]) / 255 }
        }
        var render = (origins: [Float](), directions: [Float]())
        for camera in cameras { for y in 0..<64 { for x in 0..<64 {
            let ray = camera.ray(x: x, y: y)
            render.origins += [ray.origin.x, ray.origin.y, ray.origin.z]
            render.directions += [ray.direction.x, ray.direction.y, ray.direction.z]
        } } }
        try SafetensorsFile.write(["train_origins": Tensor(shape: [rays, 3], storage: train.origins), "train_directions": Tensor(shape: [rays, 3], storage: train.directions),
                                   "train_jitter": Tensor(shape: [rays], storage: train.jitter), "train_targets": Tensor(shape: [rays, 3], storage: train.targets),
                                   "render_origins": Tensor(shape: [renderRays, 3], storage: render.origins),
                                   "render_directions": Tensor(shape: [renderRays, 3], storage: render.directions),
                                   "render_colours": rendered.channelsLast().reshaped([renderRays, 3])],
                                  metadata: [:], to: "\(folder)/rays.safetensors")
        let peer = try BenchCase.runScript(python: python, arguments: ["Tools/bench_nerf_torch.py", "--folder", folder, "--threads", "\(threads)",
                                                                   "--runs", "\(max(1, runs))"])
        guard let torchTrain = peer["train_rays_per_s"] as? Double, let torchRender = peer["render_rays_per_s"] as? Double else { return result }
        result["torch_train_rays_per_s"] = torchTrain
        result["torch_render_rays_per_s"] = torchRender
        result["train_speedup_vs_torch"] = (result["train_rays_per_s"] as! Double) / torchTrain
        result["render_speedup_vs_torch"] = (result["render_rays_per_s"] as! Double) / torchRender
        result["torch_version"] = peer["torch_version"]
        result["max_abs_render_difference"] = peer["max_abs_render_difference"]
        return result
    }
}
