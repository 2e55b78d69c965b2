from .hook import DenoiseRepHook

__all__ = ['DenoiseRepHook']
