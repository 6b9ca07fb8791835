import type {
  CoreV1Api,
  Informer,
  KubernetesObject,
  ObjectCache,
  V1PersistentVolume,
  V1PersistentVolumeClaim,
  V1Pod,
  V1StorageClass,
} from "@kubernetes/client-node";
import { PatchStrategy, setHeaderOptions } from "@kubernetes/client-node";

/**
 * The storage side of kube-controller-manager plus a local-volume provisioner, as API clients:
 * - provisioner: a claim promised to a node (`volume.kubernetes.io/selected-node`, set by the
 *   scheduler for WaitForFirstConsumer classes) — or any claim of an Immediate class — gets a
 *   local PV `pvc-<claim uid>` pinned to that node (the name makes a repeated create a 409);
 * - PV binder: binds claim and volume both ways; when the claim is gone the volume is Released,
 *   and deleted if its reclaim policy is Delete;
 * - pvc-protection / pv-protection: drop their finalizers once nothing uses the object.
 * Static binding of pre-created PVs is not done.
 */
type Cache<T extends KubernetesObject> = Informer<T> & ObjectCache<T>;
const merge = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);
const SELECTED_NODE = "volume.kubernetes.io/selected-node";
const PVC_PROTECTION = "kubernetes.io/pvc-protection";
const PV_PROTECTION = "kubernetes.io/pv-protection";

export interface VolumeDeps {
  core: CoreV1Api;
  pods: Cache<V1Pod>;
  pvcs: Cache<V1PersistentVolumeClaim>;
  pvs: Cache<V1PersistentVolume>;
  classes: Cache<V1StorageClass>;
  localRoot: string;
  readyNodes: () => string[];
}

export class VolumeControllers {
  constructor(private readonly d: VolumeDeps) {}

  private classOf(c: V1PersistentVolumeClaim): V1StorageClass | undefined {
    const name = c.spec?.storageClassName;
    return name ? this.d.classes.get(name) : undefined;
  }

  waitsForFirstConsumer(c: V1PersistentVolumeClaim): boolean {
    return this.classOf(c)?.volumeBindingMode === "WaitForFirstConsumer";
  }

  /** The scheduler's half of WaitForFirstConsumer: promise the claim to a node. */
  async selectNode(c: V1PersistentVolumeClaim, node: string): Promise<void> {
    if (c.metadata?.annotations?.[SELECTED_NODE] === node) return;
    const provisioner = this.classOf(c)?.provisioner ?? "";
    await this.d.core.patchNamespacedPersistentVolumeClaim(
      {
        namespace: c.metadata?.namespace ?? "",
        name: c.metadata?.name ?? "",
        body: {
          metadata: {
            annotations: {
              [SELECTED_NODE]: node,
              "volume.kubernetes.io/storage-provisioner": provisioner,
              "volume.beta.kubernetes.io/storage-provisioner": provisioner,
            },
          },
        },
      },
      merge,
    );
  }

  async pass(): Promise<void> {
    await this.provision();
    await this.bind();
    await this.protect();
  }

  private async provision(): Promise<void> {
    for (const c of this.d.pvcs.list()) {
      if (c.spec?.volumeName || c.metadata?.deletionTimestamp) continue;
      const sc = this.classOf(c);
      if (!sc) continue;
      const node =
        sc.volumeBindingMode === "WaitForFirstConsumer"
          ? c.metadata?.annotations?.[SELECTED_NODE]
          : [...this.d.readyNodes()].sort()[0];
      if (!node) continue;
      const name = `pvc-${c.metadata?.uid}`;
      if (this.d.pvs.get(name)) continue;
      try {
        await this.d.core.createPersistentVolume({
          body: {
            metadata: { name, annotations: { "pv.kubernetes.io/provisioned-by": sc.provisioner } },
            spec: {
              capacity: { storage: c.spec?.resources?.requests?.storage ?? "1Gi" },
              accessModes: c.spec?.accessModes ?? ["ReadWriteOnce"],
              persistentVolumeReclaimPolicy: sc.reclaimPolicy ?? "Delete",
              storageClassName: sc.metadata?.name,
              volumeMode: c.spec?.volumeMode ?? "Filesystem",
              local: { path: `${this.d.localRoot}/${name}` },
              nodeAffinity: {
                required: {
                  nodeSelectorTerms: [
                    { matchExpressions: [{ key: "kubernetes.io/hostname", operator: "In", values: [node] }] },
                  ],
                },
              },
              claimRef: {
                apiVersion: "v1",
                kind: "PersistentVolumeClaim",
                namespace: c.metadata?.namespace,
                name: c.metadata?.name,
                uid: c.metadata?.uid,
              },
            },
          },
        });
      } catch (err) {
        if ((err as { code?: number }).code !== 409) throw err;
      }
    }
  }

  private async bind(): Promise<void> {
    const { core } = this.d;
    for (const pv of this.d.pvs.list()) {
      const ref = pv.spec?.claimRef;
      const name = pv.metadata?.name ?? "";
      if (!ref?.name) continue;
      const claim = this.d.pvcs.get(ref.name, ref.namespace);
      if (claim && (!ref.uid || claim.metadata?.uid === ref.uid)) {
        const ns = claim.metadata?.namespace ?? "";
        const cname = claim.metadata?.name ?? "";
        if (claim.metadata?.deletionTimestamp && !claim.spec?.volumeName) continue;
        if (!claim.spec?.volumeName) {
          await core.patchNamespacedPersistentVolumeClaim(
            {
              namespace: ns,
              name: cname,
              body: {
                metadata: {
                  annotations: {
                    "pv.kubernetes.io/bind-completed": "yes",
                    "pv.kubernetes.io/bound-by-controller": "yes",
                  },
                },
                spec: { volumeName: name },
              },
            },
            merge,
          );
        } else if (claim.spec.volumeName !== name) {
          continue;
        }
        if (pv.status?.phase !== "Bound")
          await core.patchPersistentVolumeStatus({ name, body: { status: { phase: "Bound" } } }, merge);
        if (claim.status?.phase !== "Bound")
          await core.patchNamespacedPersistentVolumeClaimStatus(
            {
              namespace: ns,
              name: cname,
              body: {
                status: { phase: "Bound", accessModes: pv.spec?.accessModes, capacity: pv.spec?.capacity },
              },
            },
            merge,
          );
        continue;
      }
      // Its claim is gone: the volume is released (which lets pv-protection go), and reclaimed per
      // its policy.
      if (pv.status?.phase !== "Released")
        await core.patchPersistentVolumeStatus({ name, body: { status: { phase: "Released" } } }, merge);
      if (pv.spec?.persistentVolumeReclaimPolicy === "Delete" && !pv.metadata?.deletionTimestamp)
        await core.deletePersistentVolume({ name });
    }
  }

  private async protect(): Promise<void> {
    const { core } = this.d;
    for (const c of this.d.pvcs.list()) {
      const finalizers = c.metadata?.finalizers ?? [];
      if (!c.metadata?.deletionTimestamp || !finalizers.includes(PVC_PROTECTION)) continue;
      const inUse = this.d.pods
        .list(c.metadata.namespace)
        .some(
          (p) =>
            p.status?.phase !== "Succeeded" &&
            p.status?.phase !== "Failed" &&
            (p.spec?.volumes ?? []).some((v) => v.persistentVolumeClaim?.claimName === c.metadata?.name),
        );
      if (inUse) continue;
      await core.patchNamespacedPersistentVolumeClaim(
        {
          namespace: c.metadata.namespace ?? "",
          name: c.metadata.name ?? "",
          body: {
            metadata: {
              resourceVersion: c.metadata.resourceVersion,
              finalizers: finalizers.filter((f) => f !== PVC_PROTECTION),
            },
          },
        },
        merge,
      );
    }
    for (const pv of this.d.pvs.list()) {
      const finalizers = pv.metadata?.finalizers ?? [];
      if (
        !pv.metadata?.deletionTimestamp ||
        !finalizers.includes(PV_PROTECTION) ||
        pv.status?.phase === "Bound"
      )
        continue;
      await core.patchPersistentVolume(
        {
          name: pv.metadata.name ?? "",
          body: {
            metadata: {
              resourceVersion: pv.metadata.resourceVersion,
              finalizers: finalizers.filter((f) => f !== PV_PROTECTION),
            },
          },
        },
        merge,
      );
    }
  }
}
