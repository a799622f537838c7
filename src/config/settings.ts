import { accessPolicyFor } from '../auth/policy';
import { mergeAuth } from '../auth/merge';
import { DEFAULT_SETTINGS, type DirectorySettings, type OptionFlags, type ResolvedSettings } from './model';

/**
 * Merges per-directory settings in order, as Apache merges per-directory configuration: a later
 * layer overrides what it sets; AddType, AddHandler and SetEnv add to what came before; Options
 * with +/- modify the inherited flags, without them replace them.
 */
export function resolveSettings(layers: readonly DirectorySettings[]): ResolvedSettings {
  const out: ResolvedSettings = {
    ...DEFAULT_SETTINGS,
    options: { ...DEFAULT_SETTINGS.options },
    addHandlers: {},
    addTypes: {},
    handlerScripts: {},
    env: {},
  };
  for (const layer of layers) {
    if (layer.options !== undefined) {
      for (const change of layer.options) out.options = applyOptions(out.options, change.set, change.add, change.remove);
    }
    if (layer.auth !== undefined) out.auth = mergeAuth(out.auth, layer.auth);
    if (layer.directoryIndex !== undefined) out.directoryIndex = layer.directoryIndex;
    if (layer.setHandler !== undefined) out.setHandler = layer.setHandler;
    if (layer.addHandlers !== undefined) Object.assign(out.addHandlers, layer.addHandlers);
    if (layer.addTypes !== undefined) Object.assign(out.addTypes, layer.addTypes);
    if (layer.handlerScripts !== undefined) Object.assign(out.handlerScripts, layer.handlerScripts);
    if (layer.processGroup !== undefined) out.processGroup = layer.processGroup;
    if (layer.applicationGroup !== undefined) out.applicationGroup = layer.applicationGroup;
    if (layer.callableObject !== undefined) out.callableObject = layer.callableObject;
    if (layer.passAuthorization !== undefined) out.passAuthorization = layer.passAuthorization;
    if (layer.chunkedRequest !== undefined) out.chunkedRequest = layer.chunkedRequest;
    if (layer.requestBodySpooling !== undefined) out.requestBodySpooling = layer.requestBodySpooling;
    if (layer.responseSpoolLimit !== undefined) out.responseSpoolLimit = layer.responseSpoolLimit;
    if (layer.mapHeadToGet !== undefined) out.mapHeadToGet = layer.mapHeadToGet;
    if (layer.scriptReloading !== undefined) out.scriptReloading = layer.scriptReloading;
    if (layer.errorOverride !== undefined) out.errorOverride = layer.errorOverride;
    if (layer.enableSendfile !== undefined) out.enableSendfile = layer.enableSendfile;
    if (layer.envOps !== undefined) {
      for (const op of layer.envOps) {
        if (op.op === 'set') out.env[op.name] = op.value;
        else delete out.env[op.name];
      }
    }
    if (layer.limitRequestBody !== undefined) out.limitRequestBody = layer.limitRequestBody;
    if (layer.trustedProxyHeaders !== undefined) out.trustedProxyHeaders = layer.trustedProxyHeaders;
    if (layer.trustedProxies !== undefined) out.trustedProxies = layer.trustedProxies;
    if (layer.restrictProcess !== undefined) out.restrictProcess = layer.restrictProcess;
  }
  out.access = accessPolicyFor(out.auth, out.scriptReloading);
  return out;
}

function applyOptions(current: OptionFlags, set: OptionFlags | null, add: (keyof OptionFlags)[], remove: (keyof OptionFlags)[]): OptionFlags {
  const next = set !== null ? { ...set } : { ...current };
  for (const flag of add) next[flag] = true;
  for (const flag of remove) next[flag] = false;
  return next;
}
