"""Adversarial generative models (curriculum Gen3): GAN, DCGAN, WGAN, WGAN-GP.

Public API:
  gan_learner(generator, discriminator, *, latent_size, loss, penalty, clip,
    n_critic, split_batch, generator_optimizer, discriminator_optimizer)
                                         both players' round as one jnn.train
                                         learner (Goodfellow et al. 2014)
  wgan(generator, critic, *, latent_size, clip=0.01, n_critic=5),
  wgan_gp(generator, critic, *, latent_size, penalty=10, n_critic=5)
                                         the papers' defaults (Arjovsky et al.
                                         2017; Gulrajani et al. 2017)
  generate(generator, state, key, n, *, latent_size, train)
                                         samples G(z), z ~ N(0, I)
  discriminator_loss, non_saturating_generator_loss, minimax_generator_loss,
  wasserstein_critic_loss, wasserstein_generator_loss,
  gradient_penalty(critic, real, fake, key), clip_weights(c), PENALTY_WEIGHT
                                         the losses and Lipschitz constraints
  MLPGenerator, MLPDiscriminator         the original MLP players
  DCGANGenerator, DCGANDiscriminator, dcgan_sizes
                                         Radford et al. (2016)
  cyclegan(...), CycleGAN, cyclegan_learner(model), translate(model, params,
    images, direction), cycle_errors, CycleErrors, CycleGenerator,
    PatchDiscriminator, generator_objective, least_squares_discriminator_loss,
    least_squares_generator_loss, cycle_consistency_loss, check_cycle_images,
    DIRECTIONS                           CycleGAN (Zhu et al. 2017)
  unpaired_domains(images, labels, key, transform), UnpairedDomains,
    domain_transform, inverse_domain_transform, check_domain_images,
    TRANSFORMS                           MNIST and a transformed MNIST, disjoint
  style_generator(...), StyleGenerator, MappingNetwork, SynthesisNetwork,
    StyleLayer, stylegan_generate(model, params, z, ...), mix_styles,
    truncate, mean_style, map_latents, synthesize, adain, instance_norm,
    check_crossover, RESOLUTIONS         StyleGAN-style (Karras et al. 2019)
  stylegan_learner(model, r1_weight, mixing_probability), StyleDiscriminator,
    r1_penalty, mixed_styles             its training (R1, Mescheder et al. 2018)
  ring_scores(samples, centres, std) -> RingScores
                                         modes covered, high-quality share
                                         (VEEGAN, Srivastava et al. 2017)
"""

from jnn.generative.gan.cyclegan import (
    DIRECTIONS,
    CycleErrors,
    CycleGAN,
    CycleGenerator,
    PatchDiscriminator,
    check_cycle_images,
    cycle_consistency_loss,
    cycle_errors,
    cyclegan,
    cyclegan_learner,
    generator_objective,
    least_squares_discriminator_loss,
    least_squares_generator_loss,
    translate,
)
from jnn.generative.gan.dcgan import DCGANDiscriminator, DCGANGenerator, dcgan_sizes
from jnn.generative.gan.domains import (
    TRANSFORMS,
    UnpairedDomains,
    check_domain_images,
    domain_transform,
    inverse_domain_transform,
    unpaired_domains,
)
from jnn.generative.gan.losses import (
    PENALTY_WEIGHT,
    clip_weights,
    discriminator_loss,
    gradient_penalty,
    minimax_generator_loss,
    non_saturating_generator_loss,
    wasserstein_critic_loss,
    wasserstein_generator_loss,
)
from jnn.generative.gan.mlp import MLPDiscriminator, MLPGenerator
from jnn.generative.gan.ring import RingScores, ring_scores
from jnn.generative.gan.stylegan import (
    RESOLUTIONS,
    MappingNetwork,
    StyleGenerator,
    StyleLayer,
    SynthesisNetwork,
    adain,
    check_crossover,
    instance_norm,
    map_latents,
    mean_style,
    mix_styles,
    style_generator,
    stylegan_generate,
    synthesize,
    truncate,
)
from jnn.generative.gan.stylegan_training import (
    StyleDiscriminator,
    mixed_styles,
    r1_penalty,
    stylegan_learner,
)
from jnn.generative.gan.training import gan_learner, generate, wgan, wgan_gp

__all__ = [
    "DIRECTIONS",
    "PENALTY_WEIGHT",
    "RESOLUTIONS",
    "TRANSFORMS",
    "CycleErrors",
    "CycleGAN",
    "CycleGenerator",
    "DCGANDiscriminator",
    "DCGANGenerator",
    "MLPDiscriminator",
    "MLPGenerator",
    "MappingNetwork",
    "PatchDiscriminator",
    "RingScores",
    "StyleDiscriminator",
    "StyleGenerator",
    "StyleLayer",
    "SynthesisNetwork",
    "UnpairedDomains",
    "adain",
    "check_crossover",
    "check_cycle_images",
    "check_domain_images",
    "clip_weights",
    "cycle_consistency_loss",
    "cycle_errors",
    "cyclegan",
    "cyclegan_learner",
    "dcgan_sizes",
    "discriminator_loss",
    "domain_transform",
    "gan_learner",
    "generate",
    "generator_objective",
    "gradient_penalty",
    "instance_norm",
    "inverse_domain_transform",
    "least_squares_discriminator_loss",
    "least_squares_generator_loss",
    "map_latents",
    "mean_style",
    "minimax_generator_loss",
    "mix_styles",
    "mixed_styles",
    "non_saturating_generator_loss",
    "r1_penalty",
    "ring_scores",
    "style_generator",
    "stylegan_generate",
    "stylegan_learner",
    "synthesize",
    "translate",
    "truncate",
    "unpaired_domains",
    "wasserstein_critic_loss",
    "wasserstein_generator_loss",
    "wgan",
    "wgan_gp",
]
